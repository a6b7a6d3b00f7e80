"""Plant simulator: the test bench the controller is proven against.

It may import ``controller`` (to share the register map and codec, and to run the
control core in closed loop); the controller never imports it.
"""
