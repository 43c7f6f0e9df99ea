"""`{% portal_alerts %}` and `{% portal_operations %}`: the operations panels of the index."""

from django import template

from portal.admin import dashboard

register = template.Library()


def allowed(context):
    return context["request"].user.has_perm("orders.view_order")


@register.inclusion_tag("admin/orders/dashboard_alerts.html", takes_context=True)
def portal_alerts(context):
    if not allowed(context):
        return {"allowed": False}
    return {"allowed": True, **dashboard.alerts_panel()}


@register.inclusion_tag("admin/orders/dashboard_operations.html", takes_context=True)
def portal_operations(context):
    if not allowed(context):
        return {"allowed": False}
    user = context["request"].user
    return {
        "allowed": True,
        "controls": dashboard.controls_panel(),
        "can_operate": user.has_perm("submissions.operate_sending"),
        "money": dashboard.money_panel(),
    }


@register.inclusion_tag("admin/portal/sending_banner.html", takes_context=True)
def sending_banner(context):
    from portal.admin.sending import banner_context

    request = context.get("request")
    return {"banner": banner_context(request.user) if request else None}


@register.filter
def operator_words(text):
    """An engine text in operators' words (portal/admin/wording.py)."""
    from portal.admin.wording import for_operator

    return for_operator(text)


@register.filter
def operator_words_with_details(text):
    """Operators' words, the raw text behind a "details" toggle when it differs."""
    from portal.admin.wording import with_details

    return with_details(text)


@register.filter
def control_change(change):
    """'Concurrency: the default → 5' for a recorded live-control change."""
    from portal.admin.wording import control_change_text

    return control_change_text(change)
