"""The fleet host: ``heatrecovery fleet`` (DESIGN.md section 11).

A Sparkplug B 3.0 host application for one group: it follows every site's
births, data and deaths, writes the time series and the replicated energy ledger
to PostgreSQL, and serves one OPC UA endpoint with ``Sites/<site>/`` for the
utility. It runs centrally, never on a gateway; the gateway side is
``controller.fleet``.
"""
