"""The batch page's priority control: low / normal / high share of the sending slots.

Posts to `<id>/priority/`; the claim reads the priority at every claim
(submissions/driver/claims.py), so it applies within a second. Needs the permission that
pauses and cancels batches.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from orders.models import Batch
from submissions import services

CHOICES = [(p.value, p.label) for p in Batch.SETTABLE_PRIORITIES]


class BatchPriorityMixin:
    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.priority_view))
        return [
            path("<int:object_id>/priority/", view, name="orders_batch_priority"),
            *super().get_urls(),
        ]

    def priority_view(self, request, object_id):
        if not request.user.has_perm("orders.cancel_batch"):
            raise PermissionDenied
        batch = get_object_or_404(Batch, pk=object_id)
        priority = request.POST.get("priority", "")
        if services.set_priority(batch, priority, request.user):
            label = Batch.Priority(priority).label.lower()
            self.message_user(request, f"Priority of {batch} set to {label}.")
        else:
            self.message_user(request, f"Priority of {batch} not changed.", messages.WARNING)
        return redirect("admin:orders_batch_change", batch.pk)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            settable = obj.priority != Batch.Priority.URGENT
            may = request.user.has_perm("orders.cancel_batch")
            context["priority_choices"] = CHOICES if settable and may else None
        return super().render_change_form(request, context, add, change, form_url, obj)
