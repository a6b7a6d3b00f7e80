"""The site's side of the fleet: a Sparkplug B 3.0 edge node in the daemon (DESIGN.md section 11).

``attach.attach_fleet`` hooks it into the scan cycle; everything else here runs in the
edge node's own thread, so the broker, the disk spool and the ledger reads never
hold up a cycle.
"""
