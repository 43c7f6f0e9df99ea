"""The daily statement: the provider's books against ours (submissions/statement.py).

Against the fake provider on loopback: orders placed by the driver, one charge whose answer
the fake drops (`lose_answers`), refunds, and lines where the books differ.
"""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from devtools.fakefusion.data import CATALOGUE
from orders.models import Batch, Order, Service
from submissions import alert_conditions, alerts, statement, statement_read
from submissions.driver import polling
from submissions.models import Alert, StatementLine, StatementRun
from submissions.provider import GsmFusionClient
from tests.fixtures.driver import run
from tests.fixtures.factories import make_batch, make_service

Status = Order.Status
Kind = StatementLine.Kind
CHECKER = CATALOGUE[0]  # 1739 at $0.08, as the fake lists it
UNLOCK = CATALOGUE[3]  # 2055 at $24.99: "No refund for blacklisted devices"


def refunding_checker():
    """The checker's price list says rejected orders are not charged."""
    Service.objects.filter(pk=CHECKER[0]).update(refunds_rejected=True)


@pytest.fixture
def books(db, enqueued, settings, make_fake_provider):
    """A fake whose orders complete at once, one call at a time, statements unpaced."""
    settings.SUBMIT_CONCURRENCY, settings.STATUS_POLL_SECONDS = 1, 0.1  # results polled in the run
    settings.STATEMENT_CALLS_PER_SECOND = 0
    fake = make_fake_provider(latency=0.0, complete_after=0)
    make_service(id=CHECKER[0], title=CHECKER[1], price=Decimal(CHECKER[3]))
    return fake


@pytest.fixture
def provider_client(books, settings):
    """A client of `books`, with short timeouts."""
    settings.GSM_FUSION_CONNECT_TIMEOUT, settings.GSM_FUSION_READ_TIMEOUT = 2, 5
    client = GsmFusionClient.from_settings()
    yield client
    client.close()


def place(client, orders, service_id=CHECKER[0]):
    """A batch of `orders` sent by the driver, then every result polled."""
    service = Service.objects.get(pk=service_id)
    batch = make_batch(service=service, orders=orders, state=Batch.State.QUEUED)
    run(client, seconds=10)
    polling.poll_due(client)
    return batch


def today():
    return timezone.localdate()


def test_a_charge_whose_answer_was_lost_is_provider_only_and_the_totals_differ_by_its_price(
    books, provider_client
):
    place(provider_client, 1)  # placed normally: the lower end of the next order's id window
    books.set_faults({"lose_answers": 1})
    place(provider_client, 2)  # the first is charged, its answer dropped; the second placed

    result = statement.run_day(today(), provider_client)

    lost = Order.objects.get(status=Status.UNKNOWN)
    held = {o["imei"]: o["id"] for o in books.orders()}
    assert books.stats()["lost_answers"] == 1
    assert (result.matched, result.provider_only, result.portal_only, result.mismatched) == (
        2,
        1,
        0,
        0,
    )
    line = result.lines.get()
    assert (line.kind, line.imei, line.remote_id, line.order_id) == (
        Kind.PROVIDER_ONLY,
        lost.imei,
        held[lost.imei],
        lost.pk,
    )
    assert line.note == (
        "charged by the provider; its answer never reached us "
        f"(our order {lost.pk} for this IMEI is unknown)"
    )
    assert (result.provider_charged, result.portal_recorded) == (Decimal("0.24"), Decimal("0.16"))
    assert result.difference == Decimal("0.08")
    assert result.outcome == StatementRun.Outcome.MISMATCH


def test_a_clean_day_matches_every_order_and_both_sides_charge_the_same(books, provider_client):
    place(provider_client, 3)

    result = statement.run_day(today(), provider_client)

    assert (result.outcome, result.matched, result.lines.count()) == (
        StatementRun.Outcome.MATCHED,
        3,
        0,
    )
    assert result.provider_charged == result.portal_recorded == Decimal("0.24")
    assert (result.difference, result.calls, result.ids_read) == (0, 1, 3)


def test_a_rejected_order_is_a_refund_on_both_sides_when_its_price_list_says_so(
    books, provider_client
):
    refunding_checker()
    make_service(id=UNLOCK[0], title=UNLOCK[1], price=Decimal(UNLOCK[3]), must_read=UNLOCK[5])
    books.set_faults({"reject_rate": 1.0})
    place(provider_client, 1)  # the checker: refunded
    place(provider_client, 1, service_id=UNLOCK[0])  # rejected orders charged

    result = statement.run_day(today(), provider_client)

    assert set(Order.objects.values_list("status", flat=True)) == {Status.REJECTED}
    assert (result.outcome, result.matched) == (StatementRun.Outcome.MATCHED, 2)
    assert (result.provider_charged, result.provider_refunds) == (
        Decimal("24.99"),
        Decimal("0.08"),
    )
    assert (result.portal_recorded, result.portal_refunds) == (Decimal("24.99"), Decimal("0.08"))


def test_spend_today_leaves_out_refunded_rejections(books, provider_client, settings):
    settings.SPEND_ALERT_PER_DAY = 1
    refunding_checker()
    make_service(id=UNLOCK[0], title=UNLOCK[1], price=Decimal(UNLOCK[3]), must_read=UNLOCK[5])
    books.set_faults({"reject_rate": 1.0})
    place(provider_client, 2)

    assert alert_conditions.spend_today(timezone.now()) is None  # $0.16 gross, all of it refunded

    place(provider_client, 1, service_id=UNLOCK[0])
    assert alert_conditions.spend_today(timezone.now()) == (
        "$24.99 spent today, over SPEND_ALERT_PER_DAY ($1)."
    )


def test_an_order_the_provider_does_not_know_is_portal_only(books, provider_client):
    batch = place(provider_client, 2)
    ghost = batch.orders.order_by("id").last()
    Order.objects.filter(pk=ghost.pk).update(remote_id=99_000_001)

    result = statement.run_day(today(), provider_client)

    line = result.lines.get()
    assert (line.kind, line.order_id, line.remote_id, line.portal_amount, line.note) == (
        Kind.PORTAL_ONLY,
        ghost.pk,
        99_000_001,
        Decimal("0.08"),
        "getimeis: no such id",
    )
    assert (result.provider_charged, result.portal_recorded, result.difference) == (
        Decimal("0.08"),
        Decimal("0.16"),
        Decimal("-0.08"),
    )


def test_a_different_amount_or_status_is_listed_with_both_sides(books, provider_client):
    batch = place(provider_client, 3)
    dearer, rejected_here, fine = batch.orders.order_by("id")
    Order.objects.filter(pk=dearer.pk).update(cost=Decimal("0.10"))
    Order.objects.filter(pk=rejected_here.pk).update(status=Status.IN_PROCESS)

    result = statement.run_day(today(), provider_client)

    lines = {line.order_id: line for line in result.lines.all()}
    assert (result.matched, set(lines)) == (1, {dearer.pk, rejected_here.pk})
    amount = lines[dearer.pk]
    assert (amount.kind, amount.provider_amount, amount.portal_amount) == (
        Kind.AMOUNT,
        Decimal("0.08"),
        Decimal("0.10"),
    )
    status = lines[rejected_here.pk]
    assert (status.kind, status.provider_status, status.portal_status, status.note) == (
        Kind.STATUS,
        "Completed",
        Status.IN_PROCESS,
        "its result is not recorded here yet (polled later)",
    )
    assert result.mismatched == 2


def test_a_day_that_does_not_match_alerts_until_it_is_reviewed(books, provider_client, staff_user):
    batch = place(provider_client, 1)
    Order.objects.filter(pk=batch.orders.get().pk).update(remote_id=99_000_001)
    result = statement.run_day(today(), provider_client)

    alerts.evaluate()
    alert = Alert.objects.get(key="statement", closed_at=None)
    assert alert.detail == f"{today():%Y-%m-%d}: {statement.summary(result)}."

    StatementRun.objects.filter(pk=result.pk).update(reviewed_at=timezone.now())
    alerts.evaluate()
    assert not Alert.objects.filter(key="statement", closed_at=None).exists()


def test_ids_whose_every_read_fails_are_unread_and_the_day_incomplete(db, settings):
    class Failing:
        calls = 0

        def order_statuses(self, ids):
            Failing.calls += 1
            raise OSError("connection refused")

    reading = statement_read.read(Failing(), range(1, 151), 2, statement_read.Pacer(0))

    assert (reading.found, len(reading.unread), reading.calls, Failing.calls) == ({}, 150, 6, 6)


def test_the_pacer_spaces_call_starts_at_the_configured_rate():
    class Recording:
        now, slept = 100.0, []

        def monotonic(self):
            return self.now

        def sleep(self, seconds):
            self.slept.append(round(seconds, 3))

    pacer = statement_read.Pacer(4, Recording())
    for _ in range(3):
        pacer.wait()

    assert Recording.slept == [0.25, 0.5]


def test_the_command_runs_a_day_or_a_range_and_refuses_a_mixed_request(books, provider_client):
    place(provider_client, 1)
    out = io.StringIO()
    day = today()

    call_command("statement", "--from", str(day - timedelta(days=1)), "--to", str(day), stdout=out)

    assert [r.day for r in StatementRun.objects.order_by("day")] == [day - timedelta(days=1), day]
    assert f"{day:%Y-%m-%d} Books agree: provider charged $0.08" in out.getvalue()
    with pytest.raises(CommandError, match="Give --date, or --from and --to, not both."):
        call_command("statement", "--date", str(day), "--from", str(day), "--to", str(day))


def test_the_statement_page_lists_its_lines_and_exports_them_with_the_matched_orders(
    books, provider_client, staff_client, django_assert_max_num_queries
):
    batch = place(provider_client, 2)
    ghost, matched = batch.orders.order_by("id")
    Order.objects.filter(pk=ghost.pk).update(remote_id=99_000_001)
    result = statement.run_day(today(), provider_client)

    with django_assert_max_num_queries(20):
        page = staff_client.get(reverse("admin:submissions_statementrun_change", args=[result.pk]))
    export = staff_client.get(reverse("admin:submissions_statementrun_export", args=[result.pk]))

    assert page.status_code == 200
    assert "Portal only (unknown to the provider)" in page.content.decode()
    rows = b"".join(export.streaming_content).decode().splitlines()
    assert rows[0].startswith("line,portal order,provider order id,IMEI")
    assert rows[1].startswith(f"Portal only (unknown to the provider),{ghost.pk},99000001,")
    assert rows[2].startswith(f"Matched,{matched.pk},{matched.remote_id},{matched.imei},")
    assert len(rows) == 3


def test_marking_a_statement_reviewed_in_the_admin_closes_its_alert(
    books, provider_client, staff_client
):
    batch = place(provider_client, 1)
    Order.objects.filter(pk=batch.orders.get().pk).update(remote_id=99_000_001)
    result = statement.run_day(today(), provider_client)
    alerts.evaluate()

    response = staff_client.post(
        reverse("admin:submissions_statementrun_changelist"),
        {"action": "mark_reviewed", "_selected_action": [result.pk]},
        follow=True,
    )
    alerts.evaluate()

    assert "1 statements marked reviewed." in response.content.decode()
    assert StatementRun.objects.get(pk=result.pk).reviewed_by.username == "staff"
    assert not Alert.objects.filter(key="statement", closed_at=None).exists()
