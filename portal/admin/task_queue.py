"""The task queue's admin (django-q2's tasks and schedules) for superusers only.

Operators have nothing to do there, and a changed schedule stops the portal's own work, so the
pages are neither listed nor reachable for other staff. Called from PortalConfig.ready(),
after the admin has found django-q2's registrations.
"""

from django.contrib import admin


class SuperusersOnly:
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)


def superusers_only(app_label="django_q", site=admin.site):
    """Register `app_label`'s ModelAdmins again, each behind SuperusersOnly."""
    for model, model_admin in list(site._registry.items()):
        if model._meta.app_label != app_label or isinstance(model_admin, SuperusersOnly):
            continue
        name, bases = type(model_admin).__name__, (SuperusersOnly, type(model_admin))
        guarded = type(name, bases, {"__module__": __name__})
        site.unregister(model)
        site.register(model, guarded)
