"""Heat-recovery plant controller: the daemon that ships to the site gateway.

Nothing in this package imports ``simulator``; the simulator is a test bench that
imports the controller, never the other way round.
"""

__version__ = "0.1.0"
