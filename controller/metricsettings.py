"""``[metrics]`` of the site file: where the Prometheus endpoint and /healthz listen.

Kept apart from ``controller.metrics`` (which needs the daemon) so the site settings
can embed it without importing the daemon.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from controller.config.strictmodel import StrictModel


class MetricsSettings(StrictModel):
    """``[metrics]`` of the site file (to be embedded by the site settings)."""

    enabled: bool = True
    host: str = "0.0.0.0"
    """Listen address. The demo binds 127.0.0.1; a gateway exposes it to its Prometheus."""
    port: Annotated[int, Field(ge=0, le=65535)] = 9464
    """0 picks a free port (tests)."""
    stall_periods: Annotated[float, Field(gt=0, le=1000)] = 3.0
    """``/healthz`` reports a stall after this many scan periods without a cycle (>= 1 s)."""
