"""Spend caps checked inside the claim, and the ledger the trigger writes."""

import threading
from decimal import Decimal

from django.db import close_old_connections, connection
from django.utils import timezone

from orders.models import Batch, Order, Placed
from submissions import controls, spend
from submissions.driver import claims
from submissions.models import SpendDay, SpendEntry
from tests.fixtures.factories import make_batch, make_service, polled
from tests.fixtures.spend import LEASE


def place(orders):
    Order.objects.mark_placed_in_bulk([Placed(o, 15562209 + o.pk, "Pending") for o in orders])


def drive_until_capped(start, chunk=7):
    """A driver's claim-and-record loop (no provider): claim, record each as placed.

    The in-flight limit (30) stays above two drivers' chunks: an empty claim means the cap.
    """
    placed = 0
    start.wait()
    while True:
        claimed = claims.claim(limit=30, wanted=chunk, lease=LEASE)
        if not claimed:
            return placed
        place(claimed)
        placed += len(claimed)


def ledger(kind):
    return list(SpendEntry.objects.filter(kind=kind).values_list("amount", "delta"))


def test_two_drivers_stop_a_40_dollar_daily_cap_at_exactly_500_orders(transactional_db, settings):
    settings.SPEND_CAP_DAILY = Decimal("40")
    make_batch(orders=600, state=Batch.State.QUEUED)
    counts, start = [], threading.Barrier(2)

    def driver():
        try:
            counts.append(drive_until_capped(start))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=driver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Order.objects.filter(status=Order.Status.PENDING).count() == 500
    assert sum(counts) == 500, counts
    if connection.vendor == "postgresql":  # SQLite runs one writer at a time
        assert all(counts), f"both drivers claimed: {counts}"
    assert Order.objects.filter(status=Order.Status.QUEUED).count() == 100
    assert spend.committed(timezone.now()).today == Decimal("40.00")


def test_a_claim_takes_only_the_orders_that_fit_under_the_cap(db, settings):
    settings.SPEND_CAP_DAILY = Decimal("1.00")
    make_batch(orders=20, state=Batch.State.QUEUED)

    assert len(claims.claim(limit=50, wanted=50, lease=LEASE)) == 12  # 12 x $0.08 = $0.96
    assert len(claims.claim(limit=50, wanted=50, lease=LEASE)) == 0


def test_a_cheaper_order_still_fits_after_a_dear_one_does_not(db, settings):
    settings.SPEND_CAP_DAILY = Decimal("50")
    make_batch(service=make_service(id=7, title="Unlock", price=Decimal("110")), orders=1)
    cheap = make_batch(orders=2)

    claimed = claims.claim(limit=50, wanted=50, lease=LEASE)

    assert {o.batch_id for o in claimed} == {cheap.pk} and len(claimed) == 2


def test_the_monthly_cap_counts_earlier_days_of_the_month(db, settings):
    settings.SPEND_CAP_MONTHLY = Decimal("1.00")
    today = timezone.localdate()
    SpendDay.objects.create(day=today.replace(day=1), service_id=1739, committed="0.84")
    make_batch(orders=5, state=Batch.State.QUEUED)

    assert len(claims.claim(limit=50, wanted=50, lease=LEASE)) == 2


def test_an_operator_cap_overrides_the_setting_and_raising_it_resumes_sending(
    db, settings, staff_user
):
    settings.SPEND_CAP_DAILY = Decimal("100")
    make_batch(orders=5, state=Batch.State.QUEUED)
    controls.change(staff_user, spend_cap_daily=Decimal("0.16"))

    assert len(claims.claim(limit=50, wanted=50, lease=LEASE, live=controls.effective())) == 2
    assert "daily spend cap ($0.16) is reached" in spend.standing().reason()

    controls.change(staff_user, spend_cap_daily=Decimal("1.00"))
    assert len(claims.claim(limit=50, wanted=50, lease=LEASE, live=controls.effective())) == 3
    assert spend.standing().reason() == ""


def test_the_ledger_reserves_charges_and_releases(db):
    make_batch(orders=3, state=Batch.State.QUEUED)
    first, second, third = claims.claim(limit=3, wanted=3, lease=LEASE)

    place([first])
    second.release("Not sent: 503")
    third.mark_failed("Invalid service")

    assert ledger("reserve") == [(Decimal("0.08"), Decimal("0.08"))] * 3
    assert ledger("charge") == [(Decimal("0.08"), Decimal("0.00"))]
    assert ledger("release") == [(Decimal("0.08"), Decimal("-0.08"))] * 2
    spend.fold_now()
    assert spend.committed(timezone.now()).today == Decimal("0.08")


def test_an_unknown_outcome_stays_reserved_until_proven_not_created(db):
    make_batch(orders=1, state=Batch.State.QUEUED)
    (order,) = claims.claim(limit=1, wanted=1, lease=LEASE)
    order.mark_unknown("Read timed out")
    spend.fold_now()
    assert spend.committed(timezone.now()).today == Decimal("0.08")

    order.requeue_not_placed("Not found at the provider")
    spend.fold_now()
    assert spend.committed(timezone.now()).today == Decimal("0.00")


def test_a_rejected_order_is_refunded_only_when_the_price_list_says_so(db):
    refunding = make_service(id=8, title="Refunds", price=Decimal("20"), refunds_rejected=True)
    make_batch(orders=1, state=Batch.State.QUEUED)
    make_batch(service=refunding, orders=1, state=Batch.State.QUEUED)
    orders = claims.claim(limit=2, wanted=2, lease=LEASE)
    place(orders)
    for order in Order.objects.all():
        polled(order, "Rejected", "Invalid_IMEI", "Rejected")

    assert ledger("refund") == [(Decimal("20.00"), Decimal("-20.00"))]
    spend.fold_now()
    assert spend.totals(timezone.now())["today"] == Decimal("0.08")
