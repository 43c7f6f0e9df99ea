"""The catalogue sync: `imeiservices` mirrored into orders.Service."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import Service
from submissions.catalogue import refresh_if_stale, sync_services
from submissions.provider import ProviderError
from tests.fixtures.factories import make_service
from tests.fixtures.services import StubClient, entry

pytestmark = pytest.mark.django_db


def test_the_command_writes_the_fake_providers_catalogue(fake_provider):
    out = StringIO()

    call_command("syncservices", stdout=out)

    assert out.getvalue() == "Services: 5 created, 0 updated, 0 deactivated.\n"
    assert list(Service.objects.order_by("id").values_list("id", "price", "active")) == [
        (1201, Decimal("0.05"), True),
        (1310, Decimal("0.20"), True),
        (1739, Decimal("0.08"), True),
        (2055, Decimal("24.99"), True),
        (2180, Decimal("110.00"), True),
    ]
    checker = Service.objects.get(id=1739)
    assert checker.title.endswith("Activation Etc 🔥Hot Exclusive Checker🔥")
    assert (checker.category, checker.delivery_time) == (
        "Apple iPhone Checkers",
        "Instant-5 Minutes",
    )
    assert checker.must_read.startswith("<p><b>Instant</b> results for most devices.</p>")
    assert checker.synced_at is not None


def test_it_updates_changed_services_and_deactivates_vanished_ones():
    make_service(id=1739, price=Decimal("0.10"))
    Service.objects.create(  # exactly what entry(1201) lists: not counted as updated
        id=1201,
        title="Checker",
        category="Checkers",
        price=Decimal("0.08"),
        delivery_time="Instant",
        must_read="<p>Read me</p>",
    )
    make_service(id=9999, title="Gone")

    counts = sync_services(StubClient(entry(1739), entry(1201), entry(2000)))

    assert counts == {"created": 1, "updated": 1, "deactivated": 1, "price_rises": 0}
    assert Service.objects.get(id=1739).price == Decimal("0.08")
    assert not Service.objects.get(id=9999).active
    assert Service.objects.filter(active=True).count() == 3


def test_it_reactivates_a_service_that_is_listed_again():
    make_service(id=1739, active=False)

    counts = sync_services(
        StubClient(entry(1739, title="Apple iPhone IMEI Carrier + Simlock + FMI"))
    )

    assert counts == {"created": 0, "updated": 1, "deactivated": 0, "price_rises": 0}
    assert Service.objects.get(id=1739).active


def test_it_refuses_an_empty_catalogue_instead_of_deactivating_everything():
    make_service(id=1739)

    with pytest.raises(ProviderError, match="^The provider listed no services$"):
        sync_services(StubClient())

    assert Service.objects.get(id=1739).active


def test_the_command_reports_a_provider_error(fake_provider, settings):
    settings.GSM_FUSION_API_KEY = "WRON-GKEY-WRON-GKEY-0000"

    with pytest.raises(CommandError, match=r"^Catalogue not synced \(auth\): Invalid API Key!$"):
        call_command("syncservices")


def test_it_syncs_when_there_are_no_services():
    client = StubClient(entry(1739))

    assert refresh_if_stale(client=client) == {
        "created": 1,
        "updated": 0,
        "deactivated": 0,
        "price_rises": 0,
    }
    assert client.calls == 1


def test_it_leaves_a_fresh_catalogue_alone():
    make_service(id=1739, synced_at=timezone.now() - timedelta(hours=5))
    client = StubClient(entry(1739))

    assert refresh_if_stale(max_age=timedelta(hours=6), client=client) is None
    assert client.calls == 0


def test_it_syncs_a_stale_catalogue():
    make_service(id=1739, synced_at=timezone.now() - timedelta(hours=7))
    client = StubClient(entry(1739))

    refresh_if_stale(max_age=timedelta(hours=6), client=client)

    assert client.calls == 1
    assert timezone.now() - Service.objects.get(id=1739).synced_at < timedelta(minutes=1)


def test_the_command_skips_a_fresh_catalogue(fake_provider):
    make_service(id=1739, synced_at=timezone.now())
    out = StringIO()

    call_command("syncservices", "--if-older-than", "6", stdout=out)

    assert out.getvalue() == "Catalogue synced less than 6 hours ago; nothing to do.\n"
    assert fake_provider.stats()["calls"] == {}


def test_the_sync_button_pulls_the_catalogue_into_the_services_page(staff_client, fake_provider):
    page = staff_client.get("/admin/orders/service/")
    assert b"Sync catalogue from the provider" in page.content

    response = staff_client.post("/admin/orders/service/sync/", follow=True)

    assert Service.objects.filter(pk=1739, active=True).exists()
    message = [str(m) for m in response.context["messages"]][0]
    assert message.startswith("Catalogue synced: ")


def test_the_sync_url_refuses_a_get(staff_client):
    assert staff_client.get("/admin/orders/service/sync/").status_code == 405


def test_the_hourly_task_syncs_an_empty_catalogue(fake_provider):
    from submissions.tasks import refresh_catalogue

    counts = refresh_catalogue()

    assert counts["created"] == Service.objects.count() > 0
