"""Feasibility study: a year of the plant at hourly resolution, priced and financed.

``heatrecovery feasibility`` answers the question asked before any engineering:
does heat recovery pay off for this site, for whom, and under which partnership.
It runs the same component models as the simulator (heat-pump map, tank, dry
coolers, pumps) and the controller's dispatch rules on hourly arrays, prices the
year with a shipped cost catalogue and the site's own ``[contract]``, and reports
sensitivities before any single number.
"""
