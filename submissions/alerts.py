"""Alerts: conditions that need a person, kept as records and mailed once each way.

`evaluate()` runs every minute (the "Evaluate alerts" schedule, and `manage.py checkalerts`
from cron on another host, which still works when the whole cluster is dead). Each condition
is a small function returning a detail text while it holds, None when it does not. An alert
opens when its condition starts to hold and closes when it stops; each is mailed once when it
opens and once when it clears, to ALERT_EMAILS.

One cause, one mail (as Alertmanager's inhibit rules): the failure rate and the orders with an
unknown outcome follow from a provider outage, so they are held, neither opened nor mailed,
while the provider is failing or its "Provider unreachable" alert is open, and for
FAILURE_WINDOW after it cleared (the failure rate's window then holds only calls made after
the outage, and reconciliation has settled the unknown orders). An alert already open when the
outage began carries on as usual. The outage's recovery mail says what happened meanwhile.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from orders.models import Batch, Order
from orders.stuck import stuck_condition

from . import canary, garbage, health, refunds, spend, statement
from .models import Alert, ServiceHold, StatementRun

log = logging.getLogger(__name__)

FAILURE_WINDOW = timedelta(minutes=15)
OPERATOR_PAUSE_PREFIX = "Paused by "  # services.pause_batch's note; any other pause is ours
SUBJECT_PREFIX = "[IMEI portal]"


@dataclass(frozen=True)
class Condition:
    key: str
    title: str
    check: object  # now -> detail text while the condition holds, else None
    follows_outage: bool = False  # held while the provider is out (see the module docstring)
    settling: object = None  # now -> True while it may still turn out to follow an outage


def provider_down(now):
    state = health.provider_state(now)
    if state.state != "down":
        return None
    minutes = (now - state.failing_since).total_seconds() / 60
    since = f"{state.failing_since:%Y-%m-%d %H:%M:%S}"
    return (
        f"No placeorder call answered for {minutes:.0f} min (since {since} UTC) while calls "
        f"fail; last error at {state.last_error_at:%H:%M:%S} UTC."
    )


def batches_paused_by_portal(now):
    paused = Batch.objects.filter(state=Batch.State.PAUSED).exclude(
        note__startswith=OPERATOR_PAUSE_PREFIX
    )
    rows = list(paused.order_by("pk").values_list("pk", "note")[:5])
    if not rows:
        return None
    count = paused.count()
    listed = "; ".join(f"batch {pk}: {note}" for pk, note in rows)
    return f"{count} batches paused by the portal. {listed}"


def unknown_orders(now):
    count = Order.objects.filter(status=Order.Status.UNKNOWN).count()
    if not count:
        return None
    return f"{count} orders in Unknown outcome: they may have been placed; decide about them."


def unknown_orders_recent(now):
    """Every unknown order became unknown less than ALERT_PROVIDER_DOWN_SECONDS ago.

    A call cut off when the provider goes away makes its order unknown at once, before the
    outage is recognised: such orders wait as long as "Provider unreachable" needs to open
    (which then holds them), and reconciliation settles most of them meanwhile.
    """
    since = now - timedelta(seconds=settings.ALERT_PROVIDER_DOWN_SECONDS)
    unknown = Order.objects.filter(status=Order.Status.UNKNOWN)
    settled = unknown.exclude(events__to_status=Order.Status.UNKNOWN, events__at__gt=since)
    return not settled.exists()


def stuck_orders(now):
    stuck = Order.objects.filter(status__in=Order.OPEN_STATUSES).filter(stuck_condition(now))
    count = stuck.count()
    if not count:
        return None
    return f"{count} open orders older than twice their service's delivery time."


def no_worker(now):
    worker = health.worker_state(now)
    if not worker.work_waiting or (worker.alive and worker.driver_alive):
        return None
    seen = f"{worker.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" if worker.heartbeat_at else "never"
    return f"Work is waiting and no worker is running it (last heartbeat: {seen})."


def failure_rate(now):
    calls = health.call_events(now - FAILURE_WINDOW).aggregate(
        total=Count("id"), failed=Count("id", filter=Q(to_status__in=Order.CALL_ERROR_STATUSES))
    )
    total, failed = calls["total"], calls["failed"]
    if total < settings.ALERT_FAILURE_MIN_CALLS:
        return None
    if failed * 100 <= total * settings.ALERT_FAILURE_PERCENT:
        return None
    return f"{failed} of {total} placeorder calls failed in the last 15 minutes."


def spend_today(now):
    limit = settings.SPEND_ALERT_PER_DAY
    if not limit:
        return None
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = Order.objects.filter(created_at__gte=start)
    spent = today.aggregate(s=Sum("cost", filter=~refunds.refunded_q()))["s"] or 0
    spent = Decimal(spent).quantize(Decimal("0.01"))
    if spent <= limit:
        return None
    return f"${spent} spent today, over SPEND_ALERT_PER_DAY (${limit})."


def spend_cap_reached(now):
    return spend.sending_reason(now) or None


def spend_cap_near(now):
    in_force = spend.caps()
    if not in_force.any:
        return None
    standing = spend.standing(now, in_force)
    return None if standing.reached() else standing.warning() or None


def price_rises(now):
    from . import pricerise

    rises = list(pricerise.open_rises()[:5])
    if not rises:
        return None
    listed = "; ".join(f"{r.service.title}: ${r.old_price} -> ${r.new_price}" for r in rises)
    return f"Prices rose; their batches hold until someone acknowledges: {listed}"


def statement_mismatch(now):
    """A day of the last week whose newest statement does not match, not reviewed yet."""
    runs = statement.latest_runs(today=timezone.localdate(now))
    bad = [r for r in runs if r.outcome != StatementRun.Outcome.MATCHED and not r.reviewed_at]
    if not bad:
        return None
    return " ".join(f"{run.day:%Y-%m-%d}: {statement.summary(run)}." for run in bad)


def services_paused(now):
    holds = ServiceHold.objects.filter(paused_at__isnull=False).select_related("service")
    lines = [garbage.describe(hold) for hold in holds.order_by("service_id")]
    return " | ".join(lines) or None


def contract_changed(now):
    return canary.alert_detail()


CONDITIONS = [
    Condition("provider_down", "Provider unreachable", provider_down),
    Condition("batches_paused", "Batches paused by the portal", batches_paused_by_portal),
    Condition(
        "unknown_orders",
        "Orders with an unknown outcome",
        unknown_orders,
        follows_outage=True,
        settling=unknown_orders_recent,
    ),
    Condition("stuck_orders", "Orders stuck", stuck_orders),
    Condition("no_worker", "No live worker while work waits", no_worker),
    Condition("failure_rate", "Failure rate over the limit", failure_rate, follows_outage=True),
    Condition("spend", "Spend today over the limit", spend_today),
    Condition("spend_cap", "Spend cap reached: sending paused", spend_cap_reached),
    Condition("spend_cap_near", "Spend at 80 % of a cap", spend_cap_near),
    Condition("price_rise", "Service prices rose", price_rises),
    Condition("statement", "Provider's books and ours differ", statement_mismatch),
    Condition("garbage", "Service paused: paid results are garbage", services_paused),
    Condition("contract", "Provider answers changed: sending stopped", contract_changed),
]


PROVIDER_DOWN = CONDITIONS[0].key


def evaluate(now=None):
    """Open, update or close one alert per condition, then send the mails due; {key: open}.

    The outage's own condition comes first, so its dependents see it already opened or closed.
    """
    now = now or timezone.now()
    states = {}
    outage = None  # asked once, and only when a dependent condition holds
    for condition in CONDITIONS:
        detail = condition.check(now)
        if detail is not None and condition.follows_outage and not is_open(condition.key):
            outage = outage_in_effect(now) if outage is None else outage
            if outage or (condition.settling and condition.settling(now)):
                detail = None  # held: nothing to open, nothing to mail
        states[condition.key] = detail is not None
        if detail is None:
            close(condition.key, now)
        else:
            open_or_update(condition, detail, now)
    send_due_mails(now)
    return states


def is_open(key):
    return Alert.objects.filter(key=key, closed_at=None).exists()


def outage_in_effect(now):
    """The provider is failing, or its outage alert is open or cleared less than
    FAILURE_WINDOW ago."""
    recent = Q(closed_at=None) | Q(closed_at__gte=now - FAILURE_WINDOW)
    if Alert.objects.filter(recent, key=PROVIDER_DOWN).exists():
        return True
    return health.provider_state(now).state in ("failing", "down")


def open_or_update(condition, detail, now):
    """The open alert gets the latest detail; none open: a new one (one per key, enforced)."""
    still_open = Alert.objects.filter(key=condition.key, closed_at=None)
    if still_open.update(detail=detail, checked_at=now):
        return False
    try:
        with transaction.atomic():
            Alert.objects.create(
                key=condition.key,
                title=condition.title,
                detail=detail,
                opened_at=now,
                checked_at=now,
            )
    except IntegrityError:
        return False  # another evaluator opened it a moment ago
    log.warning("Alert opened: %s: %s", condition.title, detail)
    return True


def close(key, now):
    closed = Alert.objects.filter(key=key, closed_at=None).update(closed_at=now, checked_at=now)
    if closed:
        log.warning("Alert cleared: %s", key)
    return bool(closed)


def send_due_mails(now):
    """Each alert's open mail, then its clear mail, each sent once (claimed by an UPDATE)."""
    sent = 0
    for alert in Alert.objects.filter(open_mailed_at=None).order_by("opened_at"):
        sent += mail_once(alert, "open_mailed_at", f"ALERT: {alert.title}", now)
    cleared = Alert.objects.filter(
        closed_at__isnull=False, clear_mailed_at=None, open_mailed_at__isnull=False
    )
    for alert in cleared.order_by("closed_at"):
        sent += mail_once(alert, "clear_mailed_at", f"RECOVERED: {alert.title}", now)
    return sent


def mail_once(alert, field, subject, now):
    """Claim the mail with a conditional UPDATE, then send; a failed send is tried again."""
    if not Alert.objects.filter(pk=alert.pk, **{field: None}).update(**{field: now}):
        return 0  # another evaluator sends it
    if not settings.ALERT_EMAILS:
        return 0  # nobody to tell: the record on the admin index is all there is
    try:
        send_mail(f"{SUBJECT_PREFIX} {subject}", mail_body(alert), None, settings.ALERT_EMAILS)
    except Exception as exc:  # SMTP down or refused: try again at the next evaluation
        Alert.objects.filter(pk=alert.pk).update(**{field: None})
        log.error("Alert mail %r not sent: %s", subject, exc)
        return 0
    return 1


def mail_body(alert):
    alert.refresh_from_db()
    lines = [alert.title, "", alert.detail, "", f"Opened: {alert.opened_at:%Y-%m-%d %H:%M:%S} UTC"]
    if alert.closed_at:
        lines.append(f"Cleared: {alert.closed_at:%Y-%m-%d %H:%M:%S} UTC")
        if alert.key == PROVIDER_DOWN:
            lines += ["", "Meanwhile:", *outage_summary(alert)]
    lines += ["", f"The portal: {settings.PORTAL_URL}/admin/ (the Alerts panel)."]
    return "\n".join(lines)


def outage_summary(alert):
    """What happened during the outage, read from the call events: the held alerts' figures.

    The outage began before its alert opened (ALERT_PROVIDER_DOWN_SECONDS, plus up to an
    evaluation's interval): the window reaches back twice that.
    """
    start = alert.opened_at - timedelta(seconds=2 * settings.ALERT_PROVIDER_DOWN_SECONDS)
    calls = health.call_events(start).filter(at__lte=alert.closed_at)
    failed = calls.filter(to_status__in=Order.CALL_ERROR_STATUSES).count()
    became_unknown = calls.filter(to_status=Order.Status.UNKNOWN).values("order_id")
    still_unknown = Order.objects.filter(pk__in=became_unknown, status=Order.Status.UNKNOWN)
    waiting = Order.objects.filter(status=Order.Status.QUEUED, batch__state__in=Batch.LIVE_STATES)
    return [
        f"- {failed} placeorder calls got no answer or an error from {start:%H:%M} to "
        f"{alert.closed_at:%H:%M} UTC; nothing was failed or charged for a call without answer.",
        f"- {became_unknown.count()} orders became Unknown outcome, {still_unknown.count()} still "
        "are: reconciliation looks for them at the provider (an alert follows if they stay).",
        f"- {waiting.count()} orders are queued in live batches and being sent.",
    ]
