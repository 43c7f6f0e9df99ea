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
