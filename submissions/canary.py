"""The provider contract canary: a cheap read every few minutes that the answers still parse
as docs/provider-protocol.md says, so that a change stops sending before it costs money.

It reads the catalogue (`imeiservices`) and, when an order of ours has a provider id, the
newest one's status (`getimeis`, one id), and checks them strictly (provider/contract.py).
When the contract starts failing (or fails differently), "stop all sending" is switched on
through the live controls (recorded as a change without a user) and the "contract" alert
opens with the problems; an operator checks and resumes sending in Live controls. A call
that cannot be made (an outage, a refused key) is not a contract change: the outage breaker
and the other alerts cover it, and it is only noted here.
"""

import logging

from django.utils import timezone

from orders.models import Order

from . import controls
from .models import ContractCheck
from .provider import GsmFusionClient, ProviderError
from .provider.contract import catalogue_problems, getimeis_problems

log = logging.getLogger(__name__)


def check(client=None):
    """One canary run; returns the ContractCheck row."""
    own_client = client is None
    client = client or GsmFusionClient.from_settings()
    try:
        problems = read_problems(client)
    except ProviderError as exc:
        return note_error(exc)
    finally:
        if own_client:
            client.close()
    return record(problems)


def read_problems(client):
    problems = [f"imeiservices: {p}" for p in catalogue_problems(client.read_body("imeiservices"))]
    newest = newest_remote_id()
    if newest is not None:
        body = client.read_body("getimeis", orderIds=str(newest))
        problems += [f"getimeis: {p}" for p in getimeis_problems(body, newest)]
    return problems


def newest_remote_id():
    placed = Order.objects.filter(remote_id__isnull=False).order_by("-remote_id")
    return placed.values_list("remote_id", flat=True).first()


def note_error(exc):
    ContractCheck.get()
    ContractCheck.row().update(last_error=f"{exc.kind}: {exc}"[:2000])
    log.warning("Contract canary: the provider could not be read: %s", exc)
    return ContractCheck.get()


def record(problems, now=None):
    now = now or timezone.now()
    text = "\n".join(problems)
    row = ContractCheck.get()
    changed = bool(problems) and (row.ok or row.problems != text)
    row.checked_at, row.ok, row.problems, row.last_error = now, not problems, text, ""
    row.failing_since = (row.failing_since or now) if problems else None
    row.save()
    if changed:
        controls.change(None, sending_stopped=True)
        log.error("Provider contract changed; sending stopped: %s", text)
    return row


def alert_detail():
    """The alert's text while the contract fails, else None."""
    row = ContractCheck.objects.filter(pk=ContractCheck.ROW_ID, ok=False).first()
    if row is None:
        return None
    since = f"{row.failing_since:%Y-%m-%d %H:%M:%S}"
    return (
        f"The provider's answers no longer match the protocol page (since {since} UTC); "
        f"sending was stopped. {row.problems.replace(chr(10), '; ')}. Check the answers, "
        "fix the client if needed, then resume sending in Live controls."
    )
