"""The admin index: today's orders and spend, open batches, provider health, problems."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from orders.models import Batch, Order, OrderEvent
from submissions.models import Dispatcher
from tests.fixtures.factories import make_batch, make_service

S = Order.Status


def call(order, to_status, ms, minutes_ago=1):
    OrderEvent.objects.create(
        order=order,
        from_status=S.SUBMITTING,
        to_status=to_status,
        latency_ms=ms,
        at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_index_shows_todays_orders_and_spend(staff_client, db):
    batch = make_batch(orders=5)
    batch.orders.filter(pk__in=batch.orders.values("pk")[:3]).update(cost=Decimal("0.08"))
    old = make_batch(orders=2)
    old.orders.update(created_at=timezone.now() - timedelta(days=2), cost=Decimal("20"))

    html = staff_client.get("/admin/").content.decode()

    assert 'id="today-orders">5<' in html
    assert 'id="today-spend">$0.24<' in html


def test_index_shows_open_batches_with_their_bars(staff_client, db):
    running = make_batch(orders=10, source_name="monday.csv")
    running.orders.filter(pk__in=running.orders.values("pk")[:4]).update(status=S.COMPLETED)
    make_batch(orders=3, state=Batch.State.DONE, source_name="old.csv")

    html = staff_client.get("/admin/").content.decode()

    assert f"Batch {running.pk} (monday.csv)" in html
    assert "old.csv" not in html
    assert 'style="width: 40.0%"' in html


def test_index_shows_provider_health_and_problem_links(staff_client, db):
    batch = make_batch(orders=4)
    orders = list(batch.orders.all())
    call(orders[0], S.PENDING, 15_000)
    call(orders[1], S.PENDING, 17_000)
    call(orders[2], S.FAILED, 3_000)
    call(orders[3], S.PENDING, 99_000, minutes_ago=90)  # outside the last hour
    Order.objects.filter(pk=orders[2].pk).update(status=S.FAILED)
    Order.objects.filter(pk=orders[3].pk).update(status=S.UNKNOWN)
    Dispatcher.objects.create(pk=1, last_error="Invalid API Key!", last_error_at=timezone.now())

    html = staff_client.get("/admin/").content.decode()

    assert 'id="provider-errors" class="health-bad">1 of 3 (33.3 %)<' in html
    assert "15.0 s / 17.0 s" in html
    assert "Invalid API Key!" in html
    assert 'id="problem-failed"><a href="/admin/orders/order/?status__exact=failed">1</a>' in html
    assert 'id="problem-unknown"><a href="/admin/orders/order/?status__exact=unknown">1</a>' in html


def test_index_costs_a_few_queries(staff_client, db, django_assert_max_num_queries):
    for _ in range(5):
        make_batch(orders=20)

    # 12 for the summary, 7 for the operations panels (alerts, controls, money over time),
    # 2 for the check-now box's service list (the recently used ones first).
    # 1 for the spend caps.
    with django_assert_max_num_queries(22):
        assert staff_client.get("/admin/").status_code == 200


def test_index_escapes_provider_text(staff_client, db):
    batch = make_batch(orders=1, note="<script>alert('n')</script>")
    batch.pause("<script>alert('p')</script>")
    Dispatcher.objects.create(pk=1, last_error="<script>alert('d')</script>")

    html = staff_client.get("/admin/").content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;d&#x27;)" in html


def test_services_page_shows_must_read_as_text(staff_client, db):
    make_service(
        must_read="<p>Read <b>this</b></p><script>alert('m')</script><img src=x onerror=y>"
        "1 &amp; 2 &lt;script&gt;"
    )

    listing = staff_client.get("/admin/orders/service/").content.decode()
    page = staff_client.get("/admin/orders/service/1739/change/").content.decode()

    assert "Read this" in listing and "0.08" in listing and "Instant-5 Minutes" in listing
    for html in (listing, page):
        assert (
            "<script>alert" not in html and "<img src=x" not in html and "<b>this</b>" not in html
        )
    assert "<div class='must-read'>Read this\n1 &amp; 2 &lt;script&gt;</div>" in page
