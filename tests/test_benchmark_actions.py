"""The actions preset: a confirmed import and its batch cancelled, through the admin views."""

import pytest

from devtools.benchmark import actions, phases
from devtools.benchmark.config import Config
from orders.models import Batch, Order


@pytest.mark.django_db
def test_each_round_confirms_an_import_and_cancels_its_batch(staff_client):
    figures = actions.run(Config(orders=20), staff_client, phases.ensure_service(), print)

    assert [r["orders_cancelled"] for r in figures["rounds"]] == [20] * actions.ROUNDS
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.CANCELLED}
    assert Order.objects.values("imei").distinct().count() == 20 * actions.ROUNDS
    assert set(Batch.objects.values_list("state", flat=True)) == {Batch.State.CANCELLED}
    assert "cancel a 20-order batch" in actions.table(figures)
