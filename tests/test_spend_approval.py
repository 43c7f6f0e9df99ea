"""Four eyes above APPROVAL_THRESHOLD, price rises that hold, the audit chain."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from orders.models import Batch, Order
from submissions import approval, audit, pricerise, services
from submissions.catalogue import sync_services
from submissions.driver import claims
from submissions.models import AuditRecord, PriceRise
from tests.fixtures.factories import make_batch, make_service
from tests.fixtures.services import StubClient, entry
from tests.fixtures.spend import LEASE


@pytest.fixture
def approver(db, django_user_model):
    return django_user_model.objects.create_superuser("second", "s@example.com", "pass-123")


def imported(user, orders, settings, threshold="10"):
    settings.APPROVAL_THRESHOLD = Decimal(threshold)
    batch = make_batch(orders=orders, state=Batch.State.QUEUED, user=user)
    services.batch_created(batch, user, orders * batch.service.price)
    batch.refresh_from_db()
    return batch


def test_an_import_over_the_threshold_waits_and_is_never_claimed(staff_user, settings):
    batch = imported(staff_user, 200, settings)  # $16.00 > $10

    assert batch.state == Batch.State.AWAITING_APPROVAL
    assert batch.approval_requested_by == staff_user
    assert "costs $16.00, over the approval threshold ($10.00)" in batch.note
    assert claims.claim(limit=50, wanted=50, lease=LEASE) == []


def test_an_import_under_the_threshold_is_sent_as_before(staff_user, settings):
    assert imported(staff_user, 100, settings).state == Batch.State.QUEUED  # $8.00


def test_the_importer_can_never_approve_their_own_batch(staff_user, settings):
    batch = imported(staff_user, 200, settings)

    with pytest.raises(PermissionDenied, match="another staff member must approve it"):
        approval.approve(batch, staff_user)
    batch.refresh_from_db()
    assert batch.state == Batch.State.AWAITING_APPROVAL


def test_another_staff_member_approves_and_it_is_sent(staff_user, approver, settings):
    batch = imported(staff_user, 200, settings)

    assert approval.approve(batch, approver)
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by) == (Batch.State.QUEUED, approver)
    assert len(claims.claim(limit=20, wanted=20, lease=LEASE)) == 20


def test_rejecting_cancels_the_batch_and_its_orders(staff_user, approver, settings):
    batch = imported(staff_user, 200, settings)

    assert approval.reject(batch, approver)
    batch.refresh_from_db()
    assert batch.state == Batch.State.CANCELLED
    assert set(batch.orders.values_list("status", flat=True)) == {Order.Status.CANCELLED}


def test_a_resubmit_over_the_threshold_waits_for_approval(staff_user, settings):
    settings.APPROVAL_THRESHOLD = Decimal("0.10")
    batch = make_batch(orders=3, state=Batch.State.DONE)
    batch.orders.update(status=Order.Status.FAILED)

    assert services.resubmit_failed(batch.orders.all(), staff_user) == 3
    batch.refresh_from_db()
    assert (batch.state, batch.approval_requested_by) == (Batch.State.AWAITING_APPROVAL, staff_user)


def test_a_price_rise_holds_the_services_batches_until_acknowledged(staff_user):
    make_service(id=1201, title="Checker", price=Decimal("0.08"))
    held = make_batch(service=make_service(id=1201), orders=2, state=Batch.State.QUEUED)
    other = make_batch(orders=1, state=Batch.State.QUEUED)

    counts = sync_services(StubClient(entry(1201, price="0.12"), entry(1739)))

    held.refresh_from_db()
    assert counts["price_rises"] == 1
    assert held.state == Batch.State.PAUSED
    assert (
        held.note
        == "Held: the price of Checker rose from $0.08 to $0.12; acknowledge the new price."
    )
    assert [o.batch_id for o in claims.claim(limit=50, wanted=50, lease=LEASE)] == [other.pk]

    assert pricerise.acknowledge(PriceRise.objects.get(), staff_user)
    held.refresh_from_db()
    assert held.state == Batch.State.RUNNING
    assert AuditRecord.objects.filter(action="acknowledge_price").count() == 1


def test_a_price_fall_holds_nothing(db):
    make_service(id=1201, title="Checker", price=Decimal("0.10"))
    sync_services(StubClient(entry(1201, price="0.08")))

    assert not PriceRise.objects.exists()


def verify_output():
    out = StringIO()
    call_command("verifyaudit", stdout=out)
    return out.getvalue()


def test_the_audit_chain_verifies_and_links_each_record_to_the_one_before(staff_user):
    first = audit.record(staff_user, "import", "Batch 1", Decimal("16.00"))
    second = audit.record(staff_user, "approve", "Batch 1")

    assert second.prev_hash == first.hash and first.prev_hash == audit.GENESIS
    assert verify_output() == "Audit chain intact: 2 records.\n"


def test_verifyaudit_detects_a_tampered_record(staff_user):
    audit.record(staff_user, "import", "Batch 1", Decimal("16.00"))
    tampered = audit.record(staff_user, "import", "Batch 2", Decimal("900.00"))
    audit.record(staff_user, "approve", "Batch 2")
    AuditRecord.objects.filter(pk=tampered.pk).update(amount=Decimal("9.00"))

    with pytest.raises(CommandError, match=f"broken at record {tampered.pk}: its contents"):
        call_command("verifyaudit")


def test_verifyaudit_detects_a_deleted_record(staff_user):
    audit.record(staff_user, "import", "Batch 1")
    gone = audit.record(staff_user, "cancel", "Batch 1")
    after = audit.record(staff_user, "resume", "Batch 1")
    AuditRecord.objects.filter(pk=gone.pk).delete()

    with pytest.raises(CommandError, match=f"broken at record {after.pk}: its link"):
        call_command("verifyaudit")


def test_money_moving_actions_are_audited(staff_user, approver, settings):
    batch = imported(staff_user, 200, settings)
    approval.approve(batch, approver)
    services.pause_batch(batch, staff_user)
    services.resume_batch(batch, staff_user)
    services.cancel_batch(batch, staff_user)

    rows = list(AuditRecord.objects.order_by("id").values_list("username", "action", "amount"))
    assert rows == [
        ("staff", "import", Decimal("16.00")),
        ("second", "approve", Decimal("16.00")),
        ("staff", "pause", None),
        ("staff", "resume", None),
        ("staff", "cancel", None),
    ]
