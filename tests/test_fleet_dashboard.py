"""The fleet's Grafana dashboard queries run against the schema the host creates.

Grafana is not here, but PostgreSQL is: every panel's SQL (Grafana's macros replaced
by what they expand to) must run against a freshly created fleet schema, so a
renamed column or view breaks this test, not the utility's dashboard.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest
from fleet_support import DSN, unique

from fleet.settings import DatabaseSettings
from fleet.store import create_schema

pytestmark = pytest.mark.usefixtures("fleet_services")
DASHBOARD = Path(__file__).resolve().parent.parent / "deploy/grafana/fleet/dashboards/fleet.json"


def expand(sql: str, schema: str) -> str:
    sql = re.sub(r"\$__timeFilter\(([^)]*)\)", r"\1 > now() - interval '1 day'", sql)
    sql = re.sub(r"\$__unixEpochFilter\(([^)]*)\)", r"\1 > 0", sql)
    sql = sql.replace("($site)", "('site-a', 'site-b')")
    return re.sub(r"\bfleet\.", f'"{schema}".', sql)


def test_every_panel_query_runs_on_the_fleet_schema():
    dash = json.loads(DASHBOARD.read_text())
    queries = [t["rawSql"] for p in dash["panels"] for t in p.get("targets", [])]
    queries += [v["query"] for v in dash["templating"]["list"]]
    assert len(queries) >= 10
    for p in dash["panels"]:
        assert p["datasource"]["uid"] == "fleet-postgres"
    schema = unique("fleet_d")
    with psycopg.connect(DSN, autocommit=True) as conn:
        try:
            create_schema(conn, DatabaseSettings(dsn=DSN, schema_name=schema))
            for q in queries:
                assert "$" not in expand(q, schema), q
                conn.execute(expand(q, schema)).fetchall()
        finally:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
