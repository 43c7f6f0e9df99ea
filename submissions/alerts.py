"""Alerts: conditions that need a person, kept as records and mailed once each way.

`evaluate()` runs every minute (the "Evaluate alerts" schedule, and `manage.py checkalerts`
from cron on another host, which still works when the whole cluster is dead). Each condition
(alert_conditions.py) is a small function returning a detail text while it holds, None when
it does not. An alert opens when its condition starts to hold and closes when it stops; each
is mailed once when it opens and once when it clears, to ALERT_EMAILS.

One cause, one mail (as Alertmanager's inhibit rules): the failure rate and the orders with an
unknown outcome follow from a provider outage, so they are held, neither opened nor mailed,
while the provider is failing or its "Provider unreachable" alert is open, and for
FAILURE_WINDOW after it cleared (the failure rate's window then holds only calls made after
the outage, and reconciliation has settled the unknown orders). An alert already open when the
outage began carries on as usual. The outage's recovery mail says what happened meanwhile.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from orders.models import Batch, Order

from . import health
from .alert_conditions import CONDITIONS, FAILURE_WINDOW, PROVIDER_DOWN
from .models import Alert

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[IMEI portal]"


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
