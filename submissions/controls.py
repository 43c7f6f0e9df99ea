"""The operator's live sending controls: concurrency, calls per minute, "stop all sending".

Stored in the database (the `Control` row), so a change made in the admin on one host reaches
every driver on every host at its next housekeeping turn (every 2 s), without a restart.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from . import audit, spend
from .models import Control, ControlChange

SPEND_FIELDS = ("spend_cap_daily", "spend_cap_monthly", "approval_threshold")
MAX_CONCURRENCY = 500  # the same bound as SUBMIT_CONCURRENCY's
FIELDS = ("concurrency", "rate_per_minute", "sending_stopped", *SPEND_FIELDS)


@dataclass(frozen=True)
class Effective:
    """What the drivers use now: the operator's values, else the configured ones."""

    concurrency: int
    rate_per_minute: int  # 0 = no limit
    sending_stopped: bool
    concurrency_set: bool = False  # True when the operator's value overrides the setting
    rate_set: bool = False
    # submissions.spend.Caps: the spend caps and the approval threshold, read with the rest.
    spend_caps: object = field(default=None, compare=False)


def effective(control=None):
    """One small read of the Control row (none yet: the settings)."""
    if control is None:
        control = Control.objects.filter(pk=Control.ROW_ID).first() or Control()
    return Effective(
        concurrency=min(control.concurrency or settings.SUBMIT_CONCURRENCY, MAX_CONCURRENCY),
        rate_per_minute=(
            settings.SUBMIT_RATE_PER_MINUTE
            if control.rate_per_minute is None
            else control.rate_per_minute
        ),
        sending_stopped=control.sending_stopped,
        concurrency_set=control.concurrency is not None,
        rate_set=control.rate_per_minute is not None,
        spend_caps=spend.caps(control),
    )


def shown(value):
    return "" if value is None else str(value)


RAISE_CAP = "submissions.raise_spend_cap"


def raises_spend_limit(control, values):
    """The spend fields `values` would raise or remove (empty falls back to the setting)."""
    configured = spend.caps(Control())
    raised = []
    for name in SPEND_FIELDS:
        if name not in values:
            continue
        setting = getattr(configured, name.removeprefix("spend_cap_"), None)
        old, new = getattr(control, name), values[name]
        old = setting if old is None else old
        new = setting if new is None else new
        if new is None and old is not None or None not in (old, new) and new > old:
            raised.append(name)
    return raised


def change(user, **values):
    """Set some of FIELDS; records one ControlChange per field that really changed.

    Returns the changes. The row is locked while it is compared and written, so two operators
    saving at once each see the other's value as "from".
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"Not a live control: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        Control.objects.get_or_create(pk=Control.ROW_ID)
        control = Control.objects.select_for_update().get(pk=Control.ROW_ID)
        if raises_spend_limit(control, values) and not user.has_perm(RAISE_CAP):
            raise PermissionDenied(
                "Raising a spend cap or the approval threshold needs its own permission."
            )
        changes = [
            ControlChange(user=user, field=name, old_value=shown(old), new_value=shown(new))
            for name, new in values.items()
            if (old := getattr(control, name)) != new
        ]
        if changes:
            for name, new in values.items():
                setattr(control, name, new)
            control.updated_at = timezone.now()
            control.save()
            ControlChange.objects.bulk_create(changes)
            for item in changes:
                detail = (
                    f"{item.field}: {item.old_value or 'default'} -> {item.new_value or 'default'}"
                )
                audit.record(user, "control", detail)
    return changes


def recent_changes(limit=10):
    return list(ControlChange.objects.select_related("user")[:limit])
