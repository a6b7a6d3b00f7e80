"""The OPC UA server inside the running controller (issue 4): what SCADA sees and changes.

A real controller process against the simulator process: the utility's write of its
heat demand reaches the control core (it becomes the demand in force, source
"scada"), and when the plant stops answering the published values turn Bad instead
of keeping their last good-looking numbers.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from asyncua import Client, ua
from e2e import free_port, start_controller, start_simulator, write_site

from controller.opcua.passwords import hash_password

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

NS = "urn:heat-recovery:plant"
PASSWORDS = {"utility": "ut-secret", "operator": "op-secret"}


def site_with_opcua(tmp: Path, modbus_port: int, opc_port: int) -> Path:
    path = write_site(tmp, modbus_port, period_s=0.2, time_scale=5.0)
    users = ", ".join(
        f'{{ name = "{u}", password_hash = "{hash_password(p)}", role = "{u}" }}'
        for u, p in PASSWORDS.items()
    )
    path.write_text(
        path.read_text()
        + f"""
[opcua]
enabled = true
host = "127.0.0.1"
port = {opc_port}
allow_none_security = true
data_dir = "{tmp / "opcua"}"
users = [{users}]
"""
    )
    return path


async def _client(url: str, user: str) -> Client:
    c = Client(url, timeout=5)
    c.set_user(user)
    c.set_password(PASSWORDS[user])
    await c.connect()
    return c


async def _node(c: Client, path: str) -> object:
    ns = await c.get_namespace_index(NS)
    return c.get_node(ua.NodeId(f"Plant/{path}", ns))


async def _wait(predicate: object, within_s: float) -> None:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_utility_write_reaches_core_and_comms_loss_turns_values_bad(tmp_path: Path) -> None:
    modbus, opc = free_port(), free_port()
    sim = start_simulator(modbus, speed=5.0)
    ctl = start_controller(site_with_opcua(tmp_path, modbus, opc))
    url = f"opc.tcp://127.0.0.1:{opc}"

    async def scenario() -> None:
        end = time.monotonic() + 30
        while True:  # the server comes up with the controller
            try:
                util = await _client(url, "utility")
                break
            except (OSError, TimeoutError, ua.UaError):
                assert time.monotonic() < end, "\n".join(ctl.lines[-20:])
                await asyncio.sleep(0.3)
        oper = await _client(url, "operator")
        try:
            fws = await _node(util, "FacilityWater/SupplyTemp")

            async def fws_good() -> bool:
                dv = await fws.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
                return dv.StatusCode.is_good() and 20 < dv.Value.Value < 40

            await _wait(fws_good, 30)
            # The utility asks for 650 kW; the core takes it as the demand in force.
            demand = await _node(util, "DistrictHeating/Setpoints/HeatDemand")
            await demand.write_value(ua.Variant(650.0, ua.VariantType.Double))  # type: ignore[attr-defined]
            ctl.wait_for(
                lambda r: (
                    r.get("kind") == "setpoint" and "demand source scada" in r.get("event", "")
                ),
                timeout=20,
            )

            async def demand_in_force() -> bool:
                return abs(await demand.read_value() - 650.0) < 1e-6  # type: ignore[attr-defined]

            await _wait(demand_in_force, 10)
            # The operator role is read-only.
            op_demand = await _node(oper, "DistrictHeating/Setpoints/HeatDemand")
            with pytest.raises(ua.UaStatusCodeError) as refused:
                await op_demand.write_value(ua.Variant(700.0, ua.VariantType.Double))  # type: ignore[attr-defined]
            assert refused.value.code == ua.StatusCodes.BadUserAccessDenied
            # The plant stops answering: its values turn Bad, never stale-but-good.
            sim.kill()

            async def fws_bad() -> bool:
                dv = await fws.read_data_value(raise_on_bad_status=False)  # type: ignore[attr-defined]
                return dv.StatusCode.is_bad()

            await _wait(fws_bad, 20)
            tank = await _node(util, "BufferTank/TopTemp")
            assert (await tank.read_data_value(raise_on_bad_status=False)).StatusCode.is_bad()  # type: ignore[attr-defined]
        finally:
            await oper.disconnect()
            await util.disconnect()

    try:
        asyncio.run(scenario())
    finally:
        ctl.kill()
        sim.kill()
