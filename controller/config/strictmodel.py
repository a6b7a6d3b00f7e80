"""The base of every model a configuration or data file is validated against.

A file an operator or engineer writes must mean exactly what it says: a misspelt
key is an error, not ignored; ``nan`` or ``inf`` (both valid TOML) never become a
gain, a limit or a time; and nothing is converted on the way in (``"34"``, ``"yes"``
or ``true`` where a number belongs are refused). The first two hold for every
construction of a subclass; the third holds for files and environment variables,
which ``controller.config.tomlfile.validate_data`` validates in pydantic's strict
JSON mode (TOML integers are still accepted for float fields, arrays for tuples and
text for enums and paths, as TOML has no other way to write them). Python callers
(tests, defaults) keep pydantic's ordinary coercion.

A field that really takes a non-finite number says so itself with
``Field(allow_inf_nan=True)``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys refused, values immutable, every float finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
