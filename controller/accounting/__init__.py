"""Energy accounting: what the plant sold, measured so that it can be argued over.

The MID heat meter's register is the billing truth (``meter``); the controller's
own EN 1434 check energy (``en1434``) says whether to believe it; ``accounting``
turns scan cycles into 15-minute intervals and ``ledger`` keeps them through any
crash; ``contract`` and ``report`` turn a month of them into the statement.
Pure logic with time passed in: only the ledger touches a disk.
"""

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.contract import ContractSettings, GasIndexSettings
from controller.accounting.inputs import AccountingInputs
from controller.accounting.ledger import Ledger
from controller.accounting.rows import ClosedInterval, MeterEvent
from controller.accounting.settings import AccountingConfig, AccountingSettings
from controller.accounting.totals import Totals

__all__ = [
    "AccountingConfig",
    "AccountingInputs",
    "AccountingSettings",
    "ClosedInterval",
    "ContractSettings",
    "EnergyAccounting",
    "GasIndexSettings",
    "Ledger",
    "MeterEvent",
    "Totals",
]
