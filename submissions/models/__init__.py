"""The submissions app's models, one module per subject; every model is imported here."""

from .alerts import Alert
from .audit import AuditRecord
from .breakers import Breaker, ContractCheck, ServiceHold
from .controls import Control, ControlChange
from .dispatcher import Dispatcher
from .mail import MailSetting
from .one_row import OneRow
from .spend import PriceRise, SpendDay, SpendEntry, SpendPending
from .statement import StatementLine, StatementRun

__all__ = [
    "Alert",
    "AuditRecord",
    "Breaker",
    "ContractCheck",
    "Control",
    "ControlChange",
    "Dispatcher",
    "MailSetting",
    "OneRow",
    "PriceRise",
    "ServiceHold",
    "SpendDay",
    "SpendEntry",
    "SpendPending",
    "StatementLine",
    "StatementRun",
]
