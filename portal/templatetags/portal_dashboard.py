"""`{% portal_dashboard %}`: the operators' summary on the admin index."""

from django import template

from portal.admin import home_figures
from portal.admin.batch_page import format_ms
from portal.admin.check_now import CheckNowForm

register = template.Library()


@register.inclusion_tag("admin/orders/dashboard.html", takes_context=True)
def portal_dashboard(context):
    user = context["request"].user
    if not user.has_perm("orders.view_order"):
        return {"allowed": False}
    health = home_figures.provider_health()
    health["latency_text"] = " / ".join(format_ms(health["latency"][p]) for p in ("p50", "p95"))
    return {
        "allowed": True,
        "today": home_figures.today_summary(),
        "batches": home_figures.open_batches(),
        "health": health,
        "problems": home_figures.problem_orders(),
    }


@register.inclusion_tag("admin/orders/check_now_box.html", takes_context=True)
def portal_check_now(context):
    """The "Check now" box (portal/admin/check_now.py), for those who may import."""
    if not context["request"].user.has_perm("orders.import_order"):
        return {"allowed": False}
    return {"allowed": True, "form": CheckNowForm(), "csrf_token": context.get("csrf_token")}
