"""Is sending on? The banner every staff page shows, and `/admin/sending.json` behind it.

"Stop all sending" (the live controls) and an open circuit breaker stop every batch at once,
so every page says so within a few seconds, without a reload: portal/static/portal/sending.js
asks this view as the page opens, then every PAGE_REFRESH_SECONDS. One small read of the
controls row and the breaker, and, only while sending is stopped, of the change that stopped it.
"""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone

from orders.models import Batch
from submissions import controls
from submissions.alert_conditions import OPERATOR_PAUSE_PREFIX
from submissions.driver import breaker
from submissions.models import ControlChange

STOPPED = (
    "Sending is stopped for every batch{by}. Nothing new goes to the provider until someone "
    "turns it back on in Live controls; orders already sent still get their results."
)
OUTAGE = "The provider is not answering: sending waits and tries again by itself. {detail}"
PAUSED = (
    "{count} paused by the portal, not by an operator. {reason} Resume {it} once that is fixed."
)


def who_stopped():
    """' (by anna at 14:05)' from the change that stopped sending, or ''."""
    change = (
        ControlChange.objects.filter(field="sending_stopped", new_value="True")
        .select_related("user")
        .first()
    )
    if change is None:
        return ""
    return f" (by {change.user or 'someone'} at {timezone.localtime(change.at):%H:%M})"


def sending_status(now=None):
    """{'stopped': bool, 'message': operator text or ''}: why nothing is being sent."""
    if controls.effective().sending_stopped:
        return {"stopped": True, "message": STOPPED.format(by=who_stopped())}
    outage = breaker.state().describe(now)
    if outage:
        return {"stopped": True, "message": OUTAGE.format(detail=outage)}
    return paused_by_portal() or {"stopped": False, "message": ""}


def paused_by_portal():
    """Batches the portal paused itself (an account-wide refusal, bad credentials), with the
    first one's reason; None when there are none. Operators' own pauses are not news."""
    paused = Batch.objects.filter(state=Batch.State.PAUSED).exclude(
        note__startswith=OPERATOR_PAUSE_PREFIX
    )
    notes = list(paused.order_by("-created_at").values_list("note", flat=True)[:2])
    if not notes:
        return None
    count = "One batch is" if len(notes) == 1 else "Batches are"
    it = "it" if len(notes) == 1 else "them"
    return {"stopped": True, "message": PAUSED.format(count=count, reason=notes[0], it=it)}


def banner_context(user):
    """Where the banner asks (at once, then every few seconds); None for who sees none.

    The page itself reads nothing for it: its cost stays what the page shows."""
    if not (user.is_authenticated and user.is_staff):
        return None
    return {
        "url": reverse("sending_status"),
        "poll": settings.PAGE_REFRESH_SECONDS,
        "controls_url": reverse("admin:submissions_control_changelist"),
    }


@staff_member_required
def sending_status_view(request):
    return JsonResponse(sending_status())
