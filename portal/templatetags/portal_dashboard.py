"""`{% portal_dashboard %}`: the operators' summary on the admin index."""

from django import template

from portal.admin import stats
from portal.admin.batch_page import format_ms

register = template.Library()


@register.inclusion_tag("admin/orders/dashboard.html", takes_context=True)
def portal_dashboard(context):
    user = context["request"].user
    if not user.has_perm("orders.view_order"):
        return {"allowed": False}
    health = stats.provider_health()
    health["latency_text"] = " / ".join(format_ms(health["latency"][p]) for p in ("p50", "p95"))
    return {
        "allowed": True,
        "today": stats.today_summary(),
        "batches": stats.open_batches(),
        "health": health,
        "problems": stats.problem_orders(),
    }
