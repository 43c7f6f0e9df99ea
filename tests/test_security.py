"""Who may do what, CSRF, the API key kept secret, provider text escaped, login lockout, and
`check --deploy`.

Already covered elsewhere, not repeated: import needs `orders.import_order`
(test_import.py), export needs `orders.export_order` (test_export.py), uploads over the size
limit (test_import_corpus.py, test_import_limits.py), formula escaping of the export
(test_export.py).
"""

import logging
import os
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter

import submissions.driver
from orders.models import Batch, Order, OrderEvent
from submissions.driver import drive
from submissions.models import Dispatcher
from submissions.provider import GsmFusionClient, ProviderError
from tests.fixtures.factories import make_batch, make_order, make_service, valid_imei
from tests.fixtures.imports import CONFIRM_URL, IMPORT_URL, csv_of, upload

ORDERS = reverse("admin:orders_order_changelist")
BATCHES = reverse("admin:orders_batch_changelist")
SCRIPT = "<script>alert('x')</script>"


def staff_with(django_user_model, *codenames, username="clerk"):
    user = django_user_model.objects.create_user(username, password="clerk-pass-1", is_staff=True)
    view = ["view_order", "view_batch", "view_service"]
    user.user_permissions.add(*Permission.objects.filter(codename__in=[*view, *codenames]))
    return user


def logged_in(user, **client_options):
    client = Client(**client_options)
    client.force_login(user)
    return client


def action_names(client, url):
    form = client.get(url).context["action_form"]
    return {value for value, _ in form.fields["action"].choices if value}


def post_action(client, url, action, objects, **extra):
    data = {"action": action, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(url, data)


# -- who reaches the admin ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "is_staff, is_active",
    [(False, True), (True, False)],
    ids=["active but not staff", "staff but inactive"],
)
def test_only_active_staff_reach_the_admin(db, django_user_model, is_staff, is_active):
    user = django_user_model.objects.create_user(
        "someone", password="pass-1234-x", is_staff=is_staff, is_active=is_active
    )

    for client in (Client(), logged_in(user)):
        for url in ("/admin/", ORDERS, BATCHES, IMPORT_URL):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response.url.startswith("/admin/login/"), url


def test_an_active_staff_member_reaches_the_admin(db, django_user_model):
    client = logged_in(staff_with(django_user_model))

    assert client.get("/admin/").status_code == 200


# -- each power has its own permission ---------------------------------------------------------

ORDER_POWERS = {"resubmit_failed"}
BATCH_POWERS = {"resubmit_failed", "pause_batches", "resume_batches", "cancel_batches"}


@pytest.mark.parametrize(
    "codename, order_actions, batch_actions",
    [
        (None, set(), set()),
        ("resubmit_order", {"resubmit_failed"}, {"resubmit_failed"}),
        ("cancel_batch", set(), {"pause_batches", "resume_batches", "cancel_batches"}),
        ("export_order", set(), set()),  # its own action: export_selected_orders, below
    ],
)
def test_each_power_appears_only_with_its_own_permission(
    db, django_user_model, codename, order_actions, batch_actions
):
    client = logged_in(staff_with(django_user_model, *([codename] if codename else [])))
    batch = make_batch(orders=1)

    assert action_names(client, ORDERS) & ORDER_POWERS == order_actions
    assert action_names(client, BATCHES) & BATCH_POWERS == batch_actions
    exporting = codename == "export_order"
    assert ("export_selected_orders" in action_names(client, ORDERS)) is exporting
    page = client.get(reverse("admin:orders_batch_change", args=[batch.pk])).content.decode()
    assert (f"{BATCHES}{batch.pk}/export/" in page) is exporting
    assert (IMPORT_URL in client.get(ORDERS).content.decode()) is False


def test_a_viewer_cannot_use_the_urls_of_the_powers_it_lacks(db, django_user_model):
    client = logged_in(staff_with(django_user_model))
    batch = make_batch(state=Batch.State.RUNNING)
    failed = make_order(batch, status=Order.Status.FAILED, imei=valid_imei(5))
    make_service(id=1201, title="FMI check")

    assert upload(client, csv_of([valid_imei(1)]), batch.service).status_code == 403
    assert client.post(CONFIRM_URL, {"import_file_name": "x", "service": 1739}).status_code == 403
    assert client.get(f"{BATCHES}{batch.pk}/export/").status_code == 403
    assert client.post(reverse("admin:orders_service_sync")).status_code == 403
    # Admin actions the user lacks are not in the form: Django ignores them ("No action
    # selected.") and changes nothing.
    for url, action, objects in [
        (ORDERS, "resubmit_failed", [failed]),
        (BATCHES, "resubmit_failed", [batch]),
        (BATCHES, "pause_batches", [batch]),
        (BATCHES, "cancel_batches", [batch]),
        (ORDERS, "export_selected_orders", [failed]),
    ]:
        response = post_action(client, url, action, objects, post="yes")
        assert response.status_code == 302, action
        messages = [str(m) for m in response.wsgi_request._messages]
        assert set(messages) == {"No action selected."}, action

    batch.refresh_from_db()
    failed.refresh_from_db()
    assert (batch.state, failed.status) == (Batch.State.RUNNING, Order.Status.FAILED)


# -- CSRF ---------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(staff_user):
    return logged_in(staff_user, enforce_csrf_checks=True)


def test_every_state_change_needs_the_csrf_token(csrf_client, service):
    batch = make_batch(service, state=Batch.State.RUNNING)
    failed = make_order(batch, status=Order.Status.FAILED, imei=valid_imei(5))
    upload_file = SimpleUploadedFile("imeis.csv", csv_of([valid_imei(1)]))
    posts = [
        (IMPORT_URL, {"service": service.pk, "import_file": upload_file}),
        (CONFIRM_URL, {"import_file_name": "x", "original_file_name": "a.csv", "service": 1739}),
        (ORDERS, {"action": "resubmit_failed", "_selected_action": [failed.pk], "post": "yes"}),
        (BATCHES, {"action": "pause_batches", "_selected_action": [batch.pk]}),
        (BATCHES, {"action": "cancel_batches", "_selected_action": [batch.pk], "post": "yes"}),
        (reverse("admin:orders_service_sync"), {}),
        (reverse("admin:orders_batch_change", args=[batch.pk]), {"note": "changed"}),
        (reverse("admin:logout"), {}),
    ]

    for url, data in posts:
        assert csrf_client.post(url, data).status_code == 403, url

    batch.refresh_from_db()
    failed.refresh_from_db()
    assert (batch.state, batch.note, failed.status) == ("running", "", "failed")
    assert Batch.objects.count() == 1


def test_with_the_csrf_token_the_same_post_works(csrf_client, service):
    batch = make_batch(service, state=Batch.State.RUNNING)
    csrf_client.get(BATCHES)  # sets the CSRF cookie, as the page would
    token = csrf_client.cookies[django_settings.CSRF_COOKIE_NAME].value

    response = csrf_client.post(
        BATCHES,
        {"action": "pause_batches", "_selected_action": [batch.pk], "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert Batch.objects.get(pk=batch.pk).state == Batch.State.PAUSED


# -- the API key stays secret -------------------------------------------------------------------

KEY = "K3Y9-S3CR-ET00-7777-ZZQX"


@pytest.fixture
def secret_key_settings(settings, monkeypatch):
    settings.GSM_FUSION_API_KEY = KEY
    settings.GSM_FUSION_READ_TIMEOUT = 1
    settings.GSM_FUSION_CONNECT_TIMEOUT = 1
    settings.SUBMIT_CONCURRENCY = 4
    monkeypatch.setattr(submissions.driver, "enqueue", lambda: None)
    monkeypatch.setattr(submissions.driver.loop, "HOUSEKEEPING_SECONDS", 0.1)
    monkeypatch.setattr(submissions.driver.sending, "IDLE_CLAIM_SECONDS", 0.1)
    return settings


def everything_shown(client, batch):
    """Every page, answer, export and record where an error or a provider text can surface."""
    texts = [client.get(url).content.decode() for url in (
        "/admin/", ORDERS, f"{ORDERS}?has_error=yes", BATCHES,
        reverse("admin:orders_batch_change", args=[batch.pk]),
        reverse("admin:orders_batch_progress", args=[batch.pk]),
    )]  # fmt: skip
    for order in batch.orders.all():
        texts.append(client.get(reverse("admin:orders_order_change", args=[order.pk])).text)
    export = client.get(f"{BATCHES}{batch.pk}/export/")
    texts.append(b"".join(export.streaming_content).decode("utf-8-sig"))
    texts += [o.last_error + o.result_code for o in Order.objects.all()]
    texts += [e.detail for e in OrderEvent.objects.all()]
    texts += [b.note for b in Batch.objects.all()] + [Dispatcher.get().last_error]
    return texts


def test_the_api_key_never_shows_in_pages_logs_exports_records_or_stats(
    secret_key_settings, make_fake_provider, staff_client, caplog, db, clock
):
    caplog.set_level(logging.DEBUG)
    secret_key_settings.GSM_FUSION_READ_TIMEOUT = 0.2  # real seconds a held call costs
    fake = make_fake_provider(clock=clock, fail_rate=0.2, timeout_rate=0.2, garbage_rate=0.2)
    batch = make_batch(orders=12, state=Batch.State.QUEUED)
    drive(deadline_seconds=3, clock=clock)
    fake.change_api_key("OTHR-OTHR-OTHR-OTHR-OTHR")  # the rest is refused: auth errors too
    fake.set_faults({"fail_rate": 0, "timeout_rate": 0, "garbage_rate": 0})  # refused for sure
    make_order(batch, imei=valid_imei(77))
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.RUNNING)
    drive(deadline_seconds=2, clock=clock)

    assert Batch.objects.get(pk=batch.pk).state == Batch.State.PAUSED
    assert batch.orders.exclude(last_error="").exists()  # errors of every kind were recorded
    stats = (
        requests.get(f"{fake.base_url}/_stats").text + requests.get(f"{fake.base_url}/_orders").text
    )
    shown = everything_shown(staff_client, batch)
    assert "Invalid API Key!" in Batch.objects.get(pk=batch.pk).note
    for text in [caplog.text, stats, *shown]:
        assert KEY not in text


def test_the_api_key_is_not_in_provider_errors_or_error_reports(
    secret_key_settings, make_fake_provider, monkeypatch
):
    fake = make_fake_provider()
    fake.change_api_key("OTHR-OTHR-OTHR-OTHR-OTHR")
    client = GsmFusionClient.from_settings()

    with pytest.raises(ProviderError) as refused:
        client.place_order(valid_imei(1), 1739)
    assert refused.value.kind == ProviderError.AUTH
    texts = [str(refused.value), repr(refused.value), refused.value.raw, repr(client)]

    def broken_post(*args, **kwargs):
        raise RuntimeError("boom inside the HTTP call")

    monkeypatch.setattr(client.session, "post", broken_post)
    try:
        client.list_services()
    except RuntimeError:
        reporter = ExceptionReporter(None, *sys.exc_info())
        texts += [reporter.get_traceback_text(), reporter.get_traceback_html()]
    client.close()

    assert "boom inside the HTTP call" in texts[-1]
    for text in texts:
        assert KEY not in text


# -- provider text is escaped wherever it is shown ----------------------------------------------


def test_provider_text_is_escaped_on_every_page(staff_client, db):
    service = make_service(title=f"Checker {SCRIPT}", must_read=f"<p>Read</p>{SCRIPT}")
    batch = make_batch(service, state=Batch.State.RUNNING, note=f"Paused: {SCRIPT}")
    order = make_order(
        batch,
        status=Order.Status.FAILED,
        last_error=f"Provider said {SCRIPT}",
        result_code=f"Model: {SCRIPT}<br>Carrier: T-Mobile",
        result_text=f"Model: {SCRIPT}",
        model_name=SCRIPT,
        carrier=SCRIPT,
    )
    OrderEvent.objects.create(order=order, from_status="submitting", to_status="failed",
                              detail=f"<error>{SCRIPT}</error>")  # fmt: skip
    pages = [
        "/admin/",
        ORDERS,
        f"{ORDERS}?has_error=yes",
        reverse("admin:orders_order_change", args=[order.pk]),
        BATCHES,
        reverse("admin:orders_batch_change", args=[batch.pk]),
        reverse("admin:orders_batch_chart", args=[batch.pk]),
        reverse("admin:orders_service_changelist"),
        reverse("admin:orders_service_change", args=[service.pk]),
        IMPORT_URL,
    ]

    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert "<script>alert(" not in response.content.decode(), url
    progress = staff_client.get(reverse("admin:orders_batch_progress", args=[batch.pk]))
    assert progress["Content-Type"] == "application/json"


# -- login lockout (django-axes) ----------------------------------------------------------------

LOGIN = "/admin/login/?next=/admin/"


def attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def logged_in_as(client):
    return client.get("/admin/").status_code == 200


def test_five_failed_logins_lock_that_username_on_that_address(staff_user, django_user_model):
    django_user_model.objects.create_superuser("other", "o@example.com", "other-pass-123")
    client = Client()

    for _ in range(4):
        assert attempt(client, "staff", "wrong").status_code == 200  # the form again
    assert attempt(client, "staff", "wrong").status_code == 429  # the fifth failure locks
    locked = attempt(client, "staff", "staff-pass-123")

    assert locked.status_code == 429
    assert "too many" in locked.content.decode().lower()
    assert not logged_in_as(client)
    assert attempt(Client(), "other", "other-pass-123").status_code == 302  # others still can
    assert attempt(Client(REMOTE_ADDR="10.1.2.3"), "staff", "staff-pass-123").status_code == 302


def test_a_successful_login_resets_the_failure_count(staff_user):
    client = Client()
    for _ in range(4):
        attempt(client, "staff", "wrong")
    assert attempt(client, "staff", "staff-pass-123").status_code == 302
    client.logout()

    for _ in range(4):
        attempt(client, "staff", "wrong")

    assert attempt(client, "staff", "staff-pass-123").status_code == 302


def test_the_lockout_ends_after_the_cool_off(staff_user):
    client = Client()
    for _ in range(5):
        attempt(client, "staff", "wrong")
    assert attempt(client, "staff", "staff-pass-123").status_code == 429
    assert django_settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    assert attempt(client, "staff", "staff-pass-123").status_code == 302


def lock_out(client, username="staff"):
    for _ in range(5):
        attempt(client, username, "wrong")


def through_proxy(forwarded_for):
    return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)


def test_behind_a_proxy_failures_lock_the_forwarded_address_not_others(settings, staff_user):
    settings.TRUSTED_PROXY_COUNT = 1

    lock_out(through_proxy("203.0.113.5"))

    assert attempt(through_proxy("203.0.113.5"), "staff", "staff-pass-123").status_code == 429
    assert attempt(through_proxy("198.51.100.7"), "staff", "staff-pass-123").status_code == 302
    assert AccessAttempt.objects.get().ip_address == "203.0.113.5"


def test_a_client_cannot_pick_its_address_by_sending_the_header_itself(settings, staff_user):
    settings.TRUSTED_PROXY_COUNT = 1
    lock_out(through_proxy("203.0.113.5"))

    # The proxy appends what it saw; only that last entry is believed.
    spoofed = through_proxy("198.51.100.7, 203.0.113.5")

    assert attempt(spoofed, "staff", "staff-pass-123").status_code == 429


def test_without_trusted_proxies_the_header_is_ignored(staff_user):
    lock_out(Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.5"))

    other_header = Client(REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert attempt(other_header, "staff", "staff-pass-123").status_code == 429
    assert AccessAttempt.objects.get().ip_address == "10.0.0.9"


# -- production settings ------------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DEBUG": "0",
        "SECURE_COOKIES": "1",
        "DEV_TOOLS": "0",
        "ALLOWED_HOSTS": "portal.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    # Set by the browser fixture for Playwright, never in production: `check --deploy` flags it.
    for name in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
