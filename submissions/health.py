"""What /health/ and the alerts know about the cluster and the provider.

Provider health is read in ONE place, `provider_state()`, from what the driver records today:
the Dispatcher's last success/error and the recent call events, with the circuit breaker's
state beside them.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from orders.models import Batch, Order, OrderEvent

from .driver import breaker
from .models import Dispatcher
from .provider import ProviderError

Status = Order.Status
# A placeorder call that got an answer (orders placed, or the provider's duplicate answer).
# Dispatcher.last_error texts of calls the provider answered, with an error of its own (the
# driver writes "<kind>: <message>"); any other last error is a call that got no answer.
ANSWERED_ERROR_PREFIXES = tuple(
    f"{kind}: " for kind in (ProviderError.PERMANENT, ProviderError.DUPLICATE, ProviderError.AUTH)
)


def beat():
    """The cluster is alive: written by driver housekeeping and the every-minute tasks."""
    if not Dispatcher.row().update(heartbeat_at=timezone.now()):
        Dispatcher.objects.get_or_create(
            pk=Dispatcher.ROW_ID, defaults={"heartbeat_at": timezone.now()}
        )


@dataclass(frozen=True)
class ProviderState:
    state: str  # ok, failing (errors since the last answer), down (for DOWN_SECONDS), idle
    last_success_at: datetime | None
    last_error_at: datetime | None
    failing_since: datetime | None
    breaker: str = "closed"  # or "Provider unreachable since 12:03 - next try in ..."

    def as_json(self):
        return {name: iso(value) for name, value in asdict(self).items()}


def iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def call_events(since):
    return OrderEvent.objects.filter(
        from_status=Status.SUBMITTING, latency_ms__isnull=False, at__gte=since
    )


def last_answer_at(since):
    """The latest answered placeorder call since `since` (one query on (to_status, at))."""
    events = call_events(since).filter(to_status__in=Order.ANSWERED_STATUSES)
    return events.order_by("-at").values_list("at", flat=True).first()


def provider_state(now=None, dispatcher=None):
    """ok / failing / down / idle, from the last answer and the failed calls since.

    Down: calls failed without an answer (refused, timed out, 5xx, unreadable) and no call was
    answered for ALERT_PROVIDER_DOWN_SECONDS; it stays down until a call is answered, however
    long nothing is sent. An answer includes the provider's own error texts (a duplicate, a
    refused IMEI, refused credentials): the provider is reachable then. Idle: no call yet.
    """
    now = now or timezone.now()
    down_after = timedelta(seconds=settings.ALERT_PROVIDER_DOWN_SECONDS)
    horizon = now - 3 * down_after
    dispatcher = dispatcher or Dispatcher.row().first() or Dispatcher()
    answered_error = dispatcher.last_error.startswith(ANSWERED_ERROR_PREFIXES)
    last_error = None if answered_error else dispatcher.last_error_at
    answers = [dispatcher.last_success_at, last_answer_at(horizon)]
    if answered_error:
        answers.append(dispatcher.last_error_at)
    last_answer = max([t for t in answers if t], default=None)
    if last_error is None or (last_answer is not None and last_answer >= last_error):
        state, since = ("ok" if last_answer else "idle"), None
    else:
        since = last_answer or first_error_at(horizon) or last_error
        state = "down" if now - since >= down_after else "failing"
    circuit = breaker.state().describe(now) or "closed"
    return ProviderState(
        state, dispatcher.last_success_at, dispatcher.last_error_at, since, circuit
    )


def first_error_at(since):
    errors = call_events(since).filter(to_status__in=Order.CALL_ERROR_STATUSES)
    return errors.aggregate(first=Min("at"))["first"]


@dataclass(frozen=True)
class WorkerState:
    alive: bool  # a heartbeat within HEALTH_WORKER_STALE_SECONDS
    driver_alive: bool  # a live driver lease, or a heartbeat within HEALTH_DRIVER_STALE_SECONDS
    work_waiting: bool
    heartbeat_at: datetime | None

    @property
    def stranded(self):
        """Work waits and no driver has been seen for HEALTH_DRIVER_STALE_SECONDS."""
        return self.work_waiting and not self.driver_alive

    def as_json(self):
        return {
            "alive": self.alive,
            "heartbeat_at": iso(self.heartbeat_at),
            "work_waiting": self.work_waiting,
            "work_waiting_without_driver": self.stranded,
        }


def work_waiting():
    """claims.work_remains() as two index lookups: its OR across the batch join may scan every
    order when there is none, and /health/ is asked every few seconds."""
    in_hand = Order.IN_HAND_STATUSES
    if Order.objects.filter(status__in=in_hand).exists():
        return True
    queued = Order.objects.filter(status=Status.QUEUED, batch__state__in=Batch.LIVE_STATES)
    return queued.exists()


def worker_state(now=None, dispatcher=None):
    now = now or timezone.now()
    dispatcher = dispatcher or Dispatcher.row().first() or Dispatcher()
    seen = dispatcher.heartbeat_at
    age = (now - seen).total_seconds() if seen else None
    # A driver renews its lease and beats every 2 s; the lease lapses 30 s after its worker
    # died. Either one is enough, so a handover between two drivers is no gap.
    lease_live = bool(dispatcher.driver_expires_at and dispatcher.driver_expires_at >= now)
    return WorkerState(
        alive=age is not None and age <= settings.HEALTH_WORKER_STALE_SECONDS,
        driver_alive=lease_live
        or (age is not None and age <= settings.HEALTH_DRIVER_STALE_SECONDS),
        work_waiting=work_waiting(),
        heartbeat_at=seen,
    )
