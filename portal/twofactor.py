"""Two-factor login for staff who can move money: TOTP, with recovery codes.

With STAFF_2FA on (the default unless DEBUG), a staff member who may confirm imports, approve,
re-submit or change the caps and live controls must confirm a one-time code after the
password before any admin page: the first time they set up an authenticator app (TOTP, via
django-otp) and receive ten single-use recovery codes. Everyone else logs in as before.
"""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

# Whoever holds one of these permissions can spend money or let it be spent.
MONEY_PERMISSIONS = [
    "orders.import_order",
    "orders.approve_batch",
    "orders.resubmit_order",
    "submissions.operate_sending",
    "submissions.raise_spend_cap",
]
RECOVERY_CODES = 10
OPEN_PATHS = ("/admin/logout/", "/admin/2fa/", "/static/", "/health/")


def needs_second_factor(user):
    if not (settings.STAFF_2FA and user.is_authenticated and user.is_staff):
        return False
    return any(user.has_perm(name) for name in MONEY_PERMISSIONS)


class StaffTwoFactorMiddleware:
    """After django-otp's OTPMiddleware: a staff page needs a verified second factor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            not request.path.startswith(OPEN_PATHS)
            and needs_second_factor(user)
            and not user.is_verified()
        ):
            step = "verify" if user_has_device(user, confirmed=True) else "setup"
            return redirect(f"{reverse(f'twofactor_{step}')}?next={request.path}")
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(label="Code", max_length=16, widget=forms.TextInput({"autofocus": 1}))


def next_url(request):
    wanted = request.GET.get("next", "")
    return wanted if wanted.startswith("/") and not wanted.startswith("//") else "/admin/"


@login_required(login_url="/admin/login/")
def verify_view(request):
    """The code from the app, or a recovery code (each works once)."""
    form = TokenForm(request.POST or None)
    if form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip())
        if device is not None:
            otp_login(request, device)
            return redirect(next_url(request))
        form.add_error("token", "That code is not valid (or a recovery code already used).")
    return render(request, "admin/portal/twofactor_verify.html", {"form": form})


@login_required(login_url="/admin/login/")
def setup_view(request):
    """A new authenticator: scan the key, confirm one code, get the recovery codes once."""
    user = request.user
    if user_has_device(user, confirmed=True):
        return redirect(reverse("twofactor_verify"))
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "authenticator"}
    )
    form = TokenForm(request.POST or None)
    if form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            device.confirmed = True
            device.save()
            codes = issue_recovery_codes(user)
            otp_login(request, device)
            context = {"codes": codes, "next": next_url(request)}
            return render(request, "admin/portal/twofactor_codes.html", context)
        form.add_error("token", "That code is not valid: check the app's clock and try again.")
    context = {"form": form, "config_url": device.config_url, "key": device.bin_key.hex()}
    return render(request, "admin/portal/twofactor_setup.html", context)


def issue_recovery_codes(user):
    """Ten new single-use codes; any earlier ones stop working."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name="recovery codes")
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    device.token_set.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


urlpatterns = [
    path("admin/2fa/verify/", verify_view, name="twofactor_verify"),
    path("admin/2fa/setup/", setup_view, name="twofactor_setup"),
]
