"""The fake provider speaks the protocol page's wire format and keeps the real quirks.

These tests talk raw HTTP (not the client) so they see exactly what goes over the wire.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.management import call_command

from devtools.fakefusion.server import FakeFusion, completed_code
from tests.fixtures.cluster import wait_for
from tests.fixtures.factories import valid_imei
from tests.fixtures.fakefusion import KEY, call, place

DECLARATION = '<?phpxml version="1.0" encoding="utf-8"?>'


def order_xml(order_id, imei):
    return f"<imeis><id>{order_id}</id><imei>{imei}</imei><status>Pending</status></imeis>"


def test_it_answers_with_the_malformed_declaration_and_the_root_right_after_it(fake_provider):
    response = call(fake_provider, "placeorder", imei=valid_imei(1), networkId="1739")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert response.text == f"{DECLARATION}<result>{order_xml(15562209, valid_imei(1))}</result>"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"userId": "nobody"}, "Invalid User!"),
        ({"userId": ""}, "Invalid User!"),
        ({"apiKey": ""}, "Invalid User!"),
        ({"apiKey": "WRON-GKEY-WRON-GKEY-0000"}, "Invalid API Key!"),
    ],
)
def test_it_checks_credentials_with_http_200_errors(fake_provider, params, message):
    data = {"userId": "demo", "apiKey": KEY, "action": "imeiservices", **params}

    response = requests.post(f"{fake_provider.base_url}/gsmfusion_api/index.php", data=data)

    assert (response.status_code, response.text) == (200, f"{DECLARATION}<error>{message}</error>")


def test_it_answers_invalid_user_to_a_get_like_the_redirected_http_call(fake_provider):
    response = requests.get(f"{fake_provider.base_url}/gsmfusion_api/index.php?action=getimeis")

    assert (response.status_code, response.text) == (
        200,
        f"{DECLARATION}<error>Invalid User!</error>",
    )


def test_it_lists_the_catalogue(fake_provider):
    text = call(fake_provider, "imeiservices").text

    assert text.startswith(
        f"{DECLARATION}<Packages><Package><PackageId>1739</PackageId><PackageTitle>Apple iPhone "
        "IMEI Carrier + Simlock + FMI + WW + Activation Etc 🔥Hot Exclusive Checker🔥"
        "</PackageTitle><Category>Apple iPhone Checkers</Category><PackagePrice>0.08"
        "</PackagePrice><TimeTaken>Instant-5 Minutes</TimeTaken><MustRead>&lt;p&gt;&lt;b&gt;"
    )
    assert text.count("<Package>") == 5
    assert "<PackagePrice>110.00</PackagePrice>" in text


def test_it_orders_only_the_last_imei_of_a_comma_list(fake_provider):
    imeis = [valid_imei(n) for n in range(1, 11)]

    text = place(fake_provider, ",".join(imeis))

    assert text == f"{DECLARATION}<result>{order_xml(15562209, imeis[-1])}</result>"
    assert fake_provider.orders() == [
        {"id": 15562209, "imei": imeis[-1], "service_id": 1739, "status": "Pending"}
    ]


def test_it_refuses_a_comma_list_whose_last_imei_exists_and_creates_nothing(fake_provider):
    place(fake_provider, valid_imei(20))

    text = place(fake_provider, ",".join(valid_imei(n) for n in range(1, 21)))

    assert text == f"{DECLARATION}<error>IMEI already exists!</error>"
    assert fake_provider.stats()["orders_created"] == 1


def test_it_refuses_a_duplicate_per_service_without_charging(fake_provider):
    place(fake_provider, valid_imei(1))

    again = place(fake_provider, valid_imei(1))
    other_service = place(fake_provider, valid_imei(1), service="1201")

    assert again == f"{DECLARATION}<error>IMEI already exists!</error>"
    assert "<status>Pending</status>" in other_service
    assert fake_provider.stats()["charged"] == "0.13"


def test_it_numbers_orders_with_increasing_8_digit_ids(fake_provider):
    for n in range(1, 4):
        place(fake_provider, valid_imei(n))

    assert [o["id"] for o in fake_provider.orders()] == [15562209, 15562210, 15562211]


def test_it_moves_an_order_from_pending_through_in_process_to_completed(make_fake_provider, clock):
    fake = make_fake_provider(clock=clock, latency=0, complete_after=60)
    imei = valid_imei(8)
    place(fake, imei)
    statuses = []
    for seconds in (0, 30, 30):  # completed 60 s (of the fake's clock) after it was placed
        clock.advance(seconds)
        statuses.append(call(fake, "getimeis", orderIds="15562209").text)

    assert "<status>Pending</status><code></code>" in statuses[0]
    assert "<status>In Process</status><code></code>" in statuses[1]
    escaped = completed_code(imei).replace("<", "&lt;").replace(">", "&gt;")
    assert f"<status>Completed</status><code>{escaped}</code>" in statuses[2]
    assert "Carrier: T-Mobile&lt;br&gt;" in statuses[2]
    assert "<package>Apple iPhone IMEI Carrier + Simlock" in statuses[2]


def test_it_accepts_a_luhn_invalid_imei_then_rejects_it(make_fake_provider):
    fake = make_fake_provider(complete_after=0)

    accepted = place(fake, "353370080089459")
    status = call(fake, "getimeis", orderIds="15562209").text

    assert "<status>Pending</status>" in accepted
    assert "<status>Rejected</status><code>Invalid_IMEI</code>" in status
    assert fake.stats()["charged"] == "0.08"


def test_it_leaves_unknown_ids_out_of_getimeis(fake_provider):
    place(fake_provider, valid_imei(1))

    text = call(fake_provider, "getimeis", orderIds="99999999,15562209,abc").text

    assert text.count("<imeis>") == 1
    assert call(fake_provider, "getimeis", orderIds="1").text == f"{DECLARATION}<result></result>"


def test_it_fails_with_503_before_creating_the_order(make_fake_provider):
    fake = make_fake_provider(fail_rate=1)

    response = call(fake, "placeorder", imei=valid_imei(1), networkId="1739")

    assert response.status_code == 503
    assert (fake.stats()["failed_503"], fake.stats()["orders_created"]) == (1, 0)


def test_its_gateway_answers_502_at_once_without_forwarding_to_the_provider(
    make_fake_provider, clock
):
    fake = make_fake_provider(gateway_rate=1, latency=1, jitter=0, clock=clock)

    # The fake's clock never moves: an answer at all means the 1 s latency never applied.
    response = call(fake, "placeorder", imei=valid_imei(1), networkId="1739")
    fake.set_faults({"gateway_rate": 0, "latency": 0})
    again = call(fake, "placeorder", imei=valid_imei(1), networkId="1739")

    stats = fake.stats()
    assert (response.status_code, "502 Bad Gateway" in response.text) == (502, True)
    assert (stats["failed_502"], stats["failed_503"], stats["orders_created"]) == (1, 0, 1)
    assert (stats["imeis_placed_more_than_once"], stats["imeis_sent_more_than_once"]) == (0, 1)
    assert stats["peak_inflight_placeorders"] == 1
    assert "<status>Pending</status>" in again.text


def test_the_command_passes_the_gateway_rate_to_the_fake(monkeypatch):
    served = []
    monkeypatch.setattr(FakeFusion, "serve_forever", lambda fake: served.append(fake))

    call_command("fakefusion", "--port", "0", "--gateway-rate", "0.25")

    assert (served[0].gateway_rate, served[0].fail_rate) == (0.25, 0.0)


def test_the_command_passes_the_imeis_to_refuse_to_the_fake(monkeypatch):
    served = []
    monkeypatch.setattr(FakeFusion, "serve_forever", lambda fake: served.append(fake))

    call_command("fakefusion", "--port", "0", "--refuse-imeis", f"{valid_imei(1)},{valid_imei(2)}")

    assert served[0].refuse_imeis == (valid_imei(1), valid_imei(2))


def test_it_creates_the_order_but_never_answers_with_timeout_rate(make_fake_provider):
    fake = make_fake_provider(timeout_rate=1, latency=0)

    with pytest.raises(requests.ReadTimeout):
        call(fake, "placeorder", timeout=0.1, imei=valid_imei(1), networkId="1739")

    stats = fake.stats()
    assert (stats["timed_out"], stats["orders_created"], stats["charged"]) == (1, 1, "0.08")


def test_it_stops_promptly_while_holding_an_answer(make_fake_provider):
    fake = make_fake_provider(timeout_rate=1)
    errors = []

    def send():
        try:
            call(fake, "placeorder", imei=valid_imei(1), networkId="1739")
        except requests.RequestException as exc:
            errors.append(type(exc))

    caller = threading.Thread(target=send, daemon=True)
    caller.start()
    wait_for(lambda: fake.stats()["timed_out"] == 1, 10, "the call is held", interval=0.005)
    fake.stop()
    caller.join(10)

    assert errors == [requests.ConnectionError]  # closed without an answer, not timed out


def test_it_throttles_beyond_the_rate_limit(make_fake_provider):
    fake = make_fake_provider(rate_limit=2, latency=0.01)

    codes = [
        call(fake, "placeorder", imei=valid_imei(n), networkId="1739").status_code for n in range(4)
    ]

    assert codes == [200, 200, 429, 429]
    assert (fake.stats()["rejected_429"], fake.stats()["orders_created"]) == (2, 2)


def test_it_throttles_beyond_the_in_flight_cap(make_fake_provider, clock):
    fake = make_fake_provider(max_inflight=2, latency=1, clock=clock)

    with ThreadPoolExecutor(5) as pool:
        answers = pool.map(
            lambda n: call(fake, "placeorder", imei=valid_imei(n), networkId="1739").status_code,
            range(5),
        )
        wait_for(lambda: fake.stats()["rejected_429"] == 3, 10, "three throttled", 0.005)
        clock.advance(1)  # the two in flight answer
        codes = sorted(answers)

    assert codes == [200, 200, 429, 429, 429]
    assert (fake.stats()["peak_inflight_placeorders"], fake.stats()["rejected_429"]) == (2, 3)


def test_it_keeps_hundreds_of_placeorders_in_flight_at_once(make_fake_provider, clock):
    fake = make_fake_provider(latency=1.0, clock=clock)

    with ThreadPoolExecutor(300) as pool:
        answers = pool.map(lambda n: place(fake, valid_imei(n)), range(300))
        wait_for(
            lambda: fake.stats()["inflight_placeorders"] == 300, 20, "300 calls in flight", 0.01
        )
        clock.advance(1.0)  # all 300 answer at once, one second of the fake's clock later
        texts = list(answers)

    stats = fake.stats()
    assert sum("<status>Pending</status>" in text for text in texts) == 300
    assert stats["peak_inflight_placeorders"] == 300
    assert (stats["inflight_placeorders"], stats["orders_created"], stats["charged"]) == (
        0,
        300,
        "24.00",
    )


def test_it_counts_imeis_that_reached_placeorder_more_than_once(fake_provider):
    place(fake_provider, valid_imei(1))
    place(fake_provider, valid_imei(1))
    place(fake_provider, f"{valid_imei(2)},{valid_imei(3)}")
    place(fake_provider, valid_imei(2))

    stats = fake_provider.stats()
    assert (stats["imeis_placed_more_than_once"], stats["imeis_sent_more_than_once"]) == (2, 2)
    assert stats["calls"] == {"placeorder": 4}
    assert stats["orders_created"] == 3  # IMEI 1, IMEI 3 (last of the list), IMEI 2


def test_it_serves_stats_and_orders_as_json_without_the_api_key(fake_provider):
    place(fake_provider, valid_imei(1))

    stats = requests.get(f"{fake_provider.base_url}/_stats")
    orders = requests.get(f"{fake_provider.base_url}/_orders").json()

    assert stats.json() == {
        "calls": {"placeorder": 1},
        "peak_inflight_placeorders": 1,
        "inflight_placeorders": 0,
        "orders_created": 1,
        "charged": "0.08",
        "imeis_placed_more_than_once": 0,
        "imeis_sent_more_than_once": 0,
        "rejected_429": 0,
        "failed_503": 0,
        "failed_502": 0,
        "timed_out": 0,
        "garbled": 0,
        "refused": 0,
        "refused_imeis": 0,
        "lost_answers": 0,
    }
    assert KEY not in stats.text
    assert orders == [
        {"id": 15562209, "imei": valid_imei(1), "service_id": 1739, "status": "Pending"}
    ]


def test_it_forgets_everything_on_reset(fake_provider):
    place(fake_provider, valid_imei(1))

    requests.post(f"{fake_provider.base_url}/_reset")

    assert fake_provider.orders() == []
    assert fake_provider.stats()["calls"] == {}
    assert "<id>15562209</id>" in place(fake_provider, valid_imei(1))


def test_it_binds_loopback_only():
    with pytest.raises(ValueError, match="binds 127.0.0.1 only"):
        FakeFusion("0.0.0.0", 0)


def test_its_completed_code_has_the_twelve_labels_and_is_stable_per_imei():
    code = completed_code(valid_imei(8))

    assert code == completed_code(valid_imei(8))
    assert [part.split(":")[0] for part in code.split("<br>")] == [
        "Model",
        "IMEI Number",
        "Serial Number",
        "IMEI2 Number",
        "MEID Number",
        "AppleCare Eligible",
        "Estimated Purchase Date",
        "Carrier",
        "Next Tether Policy",
        "Current GSMA Status",
        "Find My iPhone",
        "SimLock",
    ]


def test_the_command_serves_until_interrupted(monkeypatch, capsys):
    def interrupted(fake):
        raise KeyboardInterrupt

    monkeypatch.setattr(FakeFusion, "serve_forever", interrupted)

    call_command("fakefusion", "--port", "0", "--latency", "2", "--jitter", "0.5")

    out = capsys.readouterr().out
    assert "Fake GSM Fusion on http://127.0.0.1:" in out
    assert "for user 'demo': placeorder 2±0.5 s, Completed after 60 s." in out
    assert KEY not in out


def test_it_refuses_every_order_with_the_refusal_text_once_enough_exist(make_fake_provider):
    fake = make_fake_provider(refuse_text="Not enough funds.", refuse_after=1)

    first, second = place(fake, valid_imei(1)), place(fake, valid_imei(2))

    assert "<status>Pending</status>" in first
    assert second.endswith("<error>Not enough funds.</error>")
    assert (fake.stats()["orders_created"], fake.stats()["refused"]) == (1, 1)


def test_it_leaves_other_accounts_ids_between_ours_with_id_gap(make_fake_provider):
    fake = make_fake_provider(id_gap=5, seed=3, latency=0)

    for n in range(20):
        place(fake, valid_imei(n))

    ids = sorted(o["id"] for o in fake.orders())
    assert all(1 <= b - a <= 6 for a, b in zip(ids, ids[1:], strict=False))
    assert any(b - a > 1 for a, b in zip(ids, ids[1:], strict=False))


def test_its_faults_switch_at_run_time_over_http(fake_provider):
    url = f"{fake_provider.base_url}/_faults"

    on = requests.post(url, json={"fail_rate": 1, "refuse_text": "Suspended"})
    refused = requests.post(url, json={"no_such_fault": 1})

    assert (on.status_code, on.json()) == (200, {"fail_rate": 1.0, "refuse_text": "Suspended"})
    assert "503 Service Unavailable" in place(fake_provider, valid_imei(1))
    assert requests.post(url, json={"fail_rate": 0, "gateway_rate": 1}).status_code == 200
    assert "502 Bad Gateway" in place(fake_provider, valid_imei(2))
    assert refused.status_code == 400
    assert "no_such_fault" in refused.json()["error"]


def test_it_refuses_only_the_listed_imeis_with_the_per_imei_text(make_fake_provider):
    fake = make_fake_provider(refuse_imeis=[valid_imei(2)])

    first, second, third = (place(fake, valid_imei(n)) for n in (1, 2, 3))

    assert "<status>Pending</status>" in first and "<status>Pending</status>" in third
    assert second.endswith("<error>Invalid IMEI for this service</error>")
    assert (fake.stats()["orders_created"], fake.stats()["refused_imeis"]) == (2, 1)
    assert fake.stats()["charged"] == "0.16"


def test_its_per_imei_refusal_switches_over_http_and_leaves_seeded_runs_alone(make_fake_provider):
    plain = make_fake_provider(seed=7, id_gap=5, latency=0)
    refusing = make_fake_provider(seed=7, id_gap=5, latency=0)
    url = f"{refusing.base_url}/_faults"

    on = requests.post(url, json={"refuse_imeis": f"{valid_imei(9)}, {valid_imei(8)}"})
    for fake in (plain, refusing):
        for n in range(10):
            place(fake, valid_imei(n))

    assert on.json() == {"refuse_imeis": [valid_imei(9), valid_imei(8)]}
    created = {o["imei"]: o["id"] for o in refusing.orders()}
    assert created == {o["imei"]: o["id"] for o in plain.orders()[:8]}
