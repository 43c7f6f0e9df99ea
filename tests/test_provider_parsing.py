"""Every answer shape of the protocol page, parsed from tests/fixtures/provider/*.xml."""

from decimal import Decimal

import pytest

from submissions.provider.answers import MalformedAnswer, parse_answer
from submissions.provider.errors import ProviderError, error_from_text
from submissions.provider.placed import PlacedOrder, placed_order_from
from tests.fixtures.provider import provider_sample

TITLE = "Apple iPhone IMEI Carrier + Simlock + FMI + WW + Activation Etc 🔥Hot Exclusive Checker🔥"


def place(sample, imei="355473496054560"):
    body = provider_sample(sample)
    return placed_order_from(parse_answer(body), imei, body)


def test_it_parses_a_placeorder_answer_behind_the_phpxml_declaration():
    assert place("placeorder_success") == PlacedOrder(
        remote_id=15562209,
        imei="355473496054560",
        status="Pending",
        raw=provider_sample("placeorder_success"),
    )


def test_it_accepts_a_normal_declaration_and_strips_whitespace_around_leaf_text():
    placed = place("placeorder_plain_declaration")

    assert (placed.remote_id, placed.imei, placed.status) == (
        15562210,
        "355473496054560",
        "Pending",
    )


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("error_invalid_user", "Invalid User!"),
        ("error_invalid_api_key", "Invalid API Key!"),
        ("error_imei_exists", "IMEI already exists!"),
        ("error_other", "Not enough credits, please recharge!"),
    ],
)
def test_it_reads_a_bare_root_error_verbatim(sample, message):
    answer = parse_answer(provider_sample(sample))

    assert answer.errors == (message,)
    assert answer.orders == ()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("IMEI already exists!", ProviderError.DUPLICATE),
        ("Invalid User!", ProviderError.AUTH),
        ("Invalid API Key!", ProviderError.AUTH),
        (" invalid api key ", ProviderError.AUTH),
        ("Not enough credits, please recharge!", ProviderError.PERMANENT),
    ],
)
def test_it_classifies_error_texts(text, kind):
    error = error_from_text(text)

    assert (error.kind, error.message) == (kind, text)


@pytest.mark.parametrize(
    ("sample", "kind", "message"),
    [
        ("error_imei_exists", ProviderError.DUPLICATE, "IMEI already exists!"),
        ("error_invalid_user", ProviderError.AUTH, "Invalid User!"),
        ("error_other", ProviderError.PERMANENT, "Not enough credits, please recharge!"),
    ],
)
def test_it_raises_a_root_error_of_placeorder_with_its_kind(sample, kind, message):
    with pytest.raises(ProviderError) as caught:
        place(sample)

    assert (caught.value.kind, caught.value.message) == (kind, message)
    assert caught.value.raw == provider_sample(sample)


def test_it_reads_our_imei_in_the_imeiduplicates_shape_as_a_duplicate():
    answer = parse_answer(provider_sample("placeorder_imeiduplicates"))

    assert answer.duplicates == ("355473496054560", "353979106673567", "356728113452786")
    with pytest.raises(ProviderError) as caught:
        place("placeorder_imeiduplicates", imei="353979106673567")
    assert caught.value.kind == ProviderError.DUPLICATE
    assert caught.value.message == "IMEI already exists! (listed under <imeiduplicates>)"


def test_it_accepts_the_order_of_the_imeiduplicates_shape_when_it_is_ours():
    placed = place("placeorder_imeiduplicates", imei="355473496054578")

    assert (placed.remote_id, placed.imei) == (15562211, "355473496054578")


def test_it_treats_an_answer_without_our_imei_as_an_unknown_outcome():
    with pytest.raises(ProviderError) as caught:
        place("placeorder_last_imei_only")

    assert caught.value.kind == ProviderError.UNKNOWN_OUTCOME
    assert caught.value.message == (
        "placeorder for 355473496054560 returned 1 orders (15562212 for 356728113452786): "
        "the order may exist"
    )


def test_it_treats_an_empty_result_of_placeorder_as_an_unknown_outcome():
    with pytest.raises(ProviderError) as caught:
        place("placeorder_empty_result")

    assert caught.value.kind == ProviderError.UNKNOWN_OUTCOME
    assert caught.value.message == (
        "placeorder for 355473496054560 returned 0 orders (none): the order may exist"
    )


def test_it_refuses_a_truncated_body():
    with pytest.raises(MalformedAnswer, match="^not XML"):
        parse_answer(provider_sample("placeorder_truncated"))


def test_it_refuses_an_order_id_of_non_ascii_digits_as_malformed():
    body = "<result><imeis><id>1556²</id><imei>355473496054560</imei></imeis></result>"

    with pytest.raises(MalformedAnswer, match="^<id> is '1556²', not a number$"):
        parse_answer(body)


def test_it_parses_many_orders_with_escaped_html_in_their_code():
    orders = parse_answer(provider_sample("getimeis_many")).orders

    assert [(o.remote_id, o.imei, o.status) for o in orders] == [
        (15562209, "353979106673567", "Completed"),
        (15562210, "356728113452786", "Completed"),
        (15562211, "353370080089458", "Rejected"),
        (15562212, "355473496054560", "In Process"),
    ]
    assert orders[0].code.startswith("Model: iPhone 11 Purple 64GB<br>IMEI Number: 3539791")
    assert orders[1].code == (
        "Model: iPhone 12 Pro Pacific Blue 128GB<br />IMEI Number: 356728113452786<BR>"
        'Carrier: <span style="color:red">T-Mobile</span><br/>Find My iPhone: <b>ON</b><br>'
        "SimLock: Locked"
    )
    assert (orders[2].code, orders[3].code) == ("Invalid_IMEI", "")
    assert (orders[0].package, orders[0].requested_at) == (TITLE, "2025-11-14 11:46:39")
    assert orders[0].raw.startswith("<imeis><id>15562209</id>")


def test_it_parses_a_single_order_without_a_result_wrapper():
    (order,) = parse_answer(provider_sample("getimeis_single_without_result")).orders

    assert (order.remote_id, order.status, order.code, order.package) == (
        15562214,
        "Pending",
        "",
        TITLE,
    )


def test_it_parses_repeated_root_elements():
    orders = parse_answer(provider_sample("getimeis_repeated_roots")).orders

    assert [o.remote_id for o in orders] == [15562215, 15562216]


def test_it_keeps_an_unescaped_br_in_a_code_readable():
    body = (
        '<?phpxml version="1.0" encoding="utf-8"?><result><imeis><id>1</id><imei>1</imei>'
        "<status>Completed</status><code>Carrier: T-Mobile<br>SimLock: Locked</code>"
        "</imeis></result>"
    )

    (order,) = parse_answer(body).orders

    assert order.code == "Carrier: T-Mobile<br />SimLock: Locked"


def test_it_parses_the_catalogue():
    packages = parse_answer(provider_sample("imeiservices")).packages

    assert [(p.id, p.title, p.price, p.delivery_time) for p in packages] == [
        (1739, TITLE, Decimal("0.08"), "Instant-5 Minutes"),
        (2055, "AT&T USA iPhone Clean Unlock (Premium)", Decimal("24.99"), "1-5 Days"),
        (2180, "T-Mobile USA iPhone Unlock (All Models, Premium)", Decimal("110.00"), "3-14 Days"),
    ]
    assert packages[0].category == "Apple iPhone Checkers"
    assert packages[0].must_read == "<p><b>Instant</b> results.</p><script>alert(1)</script>"
    assert packages[2].must_read == "<p>Device must be paid off.</p>"


def test_it_parses_a_single_package_like_many():
    (package,) = parse_answer(provider_sample("imeiservices_single")).packages

    assert (package.id, package.price, package.must_read) == (1201, Decimal("0.05"), "")


def test_it_refuses_a_package_without_a_price():
    body = "<Packages><Package><PackageId>1</PackageId><PackagePrice>n/a</PackagePrice></Package>"

    with pytest.raises(MalformedAnswer, match=r"<PackagePrice> is 'n/a', not a price"):
        parse_answer(body + "</Packages>")
