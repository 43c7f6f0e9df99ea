"""The fake provider's faults for the books: a charge whose answer is lost, garbage results.

Raw HTTP, as in tests/test_fakefusion.py, so the tests see exactly what goes over the wire.
"""

import pytest
import requests
from django.core.management import call_command

from devtools.fakefusion.server import JUNK_CODES, FakeFusion
from tests.fixtures.factories import valid_imei
from tests.fixtures.fakefusion import call, place


def test_it_charges_an_order_and_drops_the_connection_without_an_answer(fake_provider):
    answer = requests.post(f"{fake_provider.base_url}/_faults", json={"lose_answers": 1})

    with pytest.raises(requests.ConnectionError):
        place(fake_provider, valid_imei(1))
    after = place(fake_provider, valid_imei(2))

    stats = fake_provider.stats()
    assert answer.json() == {"lose_answers": 1}
    assert (stats["lost_answers"], stats["orders_created"], stats["charged"]) == (1, 2, "0.16")
    assert "<status>Pending</status>" in after  # only the next N answers are lost
    assert [o["imei"] for o in fake_provider.orders()] == [valid_imei(1), valid_imei(2)]


def test_it_completes_one_services_orders_with_garbage_and_the_others_normally(
    make_fake_provider,
):
    fake = make_fake_provider(complete_after=0, junk_service=1201)
    for n, service in enumerate(["1201", "1201", "1739"]):
        place(fake, valid_imei(n), service)
    ids = sorted(o["id"] for o in fake.orders())

    body = call(fake, "getimeis", orderIds=",".join(map(str, ids))).text

    junk = [JUNK_CODES[ids[0] % 4], JUNK_CODES[ids[1] % 4]]
    assert body.count("<status>Completed</status>") == 3
    assert all(f"<code>{code}</code>" in body for code in junk if "<" not in code)
    assert "Carrier: " in body.split("<imeis>")[3]  # 1739's result is the real one


def test_a_seeded_run_answers_the_same_with_the_books_faults_idle(make_fake_provider):
    def ids_and_statuses(**faults):
        fake = make_fake_provider(
            seed=11, id_gap=3, reject_rate=0.5, latency=0, complete_after=0, **faults
        )
        for n in range(10):
            place(fake, valid_imei(n))
        return [(o["id"], o["status"]) for o in fake.orders()]

    assert ids_and_statuses() == ids_and_statuses(lose_answers=0, junk_service=2180)


def test_the_command_passes_the_books_faults_to_the_fake(monkeypatch):
    served = []
    monkeypatch.setattr(FakeFusion, "serve_forever", lambda fake: served.append(fake))

    call_command("fakefusion", "--port", "0", "--lose-answers", "2", "--junk-service", "1201")

    assert (served[0].lose_answers, served[0].junk_service) == (2, 1201)
