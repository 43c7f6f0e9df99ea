"""The admin pages of the live controls and the alerts.

The controls are one row: the list redirects to its change page, which only users with the
dedicated `submissions.operate_sending` permission may save. Every save goes through
`submissions.controls.change`, which records who changed what, from what to what.
"""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.html import format_html_join

from submissions import controls
from submissions.models import Alert, Control

from .readonly import ReadOnlyAdmin
from .wording import control_change_text

OPERATE = "submissions.operate_sending"


class ControlForm(forms.ModelForm):
    class Meta:
        model = Control
        fields = ["concurrency", "rate_per_minute", "sending_stopped", *controls.SPEND_FIELDS]

    user = None  # the request's user, set by ControlAdmin.get_form

    def clean(self):
        values = {name: self.cleaned_data.get(name) for name in controls.SPEND_FIELDS}
        raised = controls.raises_spend_limit(Control.objects.get(pk=Control.ROW_ID), values)
        if raised and not (self.user and self.user.has_perm(controls.RAISE_CAP)):
            names = ", ".join(self.fields[name].label for name in raised)
            raise forms.ValidationError(f"Raising {names} needs the raise-spend-cap permission.")
        return self.cleaned_data

    def clean_concurrency(self):
        value = self.cleaned_data["concurrency"]
        if value is not None and not 1 <= value <= controls.MAX_CONCURRENCY:
            raise forms.ValidationError(f"Between 1 and {controls.MAX_CONCURRENCY}.")
        return value


@admin.register(Control)
class ControlAdmin(admin.ModelAdmin):
    form = ControlForm
    readonly_fields = ["effective_now", "recent_changes"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(OPERATE)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(OPERATE) or request.user.has_perm("submissions.view_control")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    def changelist_view(self, request, extra_context=None):
        Control.objects.get_or_create(pk=Control.ROW_ID)
        return redirect("admin:submissions_control_change", Control.ROW_ID)

    def get_object(self, request, object_id, from_field=None):
        Control.objects.get_or_create(pk=Control.ROW_ID)
        return super().get_object(request, object_id, from_field)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        for item in controls.change(request.user, **values):
            self.message_user(request, f"Changed. {control_change_text(item)}", messages.INFO)

    @admin.display(description="in effect now")
    def effective_now(self, obj):
        live = controls.effective(obj)
        rate = f"{live.rate_per_minute} / min" if live.rate_per_minute else "no limit"
        stopped = "STOPPED" if live.sending_stopped else "sending"
        return f"concurrency {live.concurrency}, {rate}, {stopped}"

    @admin.display(description="recent changes")
    def recent_changes(self, obj):
        rows = [
            (f"{c.at:%Y-%m-%d %H:%M:%S}", c.user or "?", control_change_text(c))
            for c in controls.recent_changes()
        ]
        return format_html_join("", "<div>{} {}: {}</div>", rows) or "none"


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["title", "opened_at", "closed_at", "detail"]
    list_filter = ["key"]
    readonly_fields = [f.name for f in Alert._meta.fields]
