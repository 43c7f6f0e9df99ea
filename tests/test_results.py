"""Reading the result code of finished orders (service 1739 and its label variants)."""

import pytest

from submissions.provider.results import advanced_export_code, parse_result

# The vendor's Advanced Export row in ../shared/samples/vendor-advanced-export.csv, as a code.
SAMPLE_PAIRS = [
    "Model: iPhone 11 Purple 64GB",
    "IMEI Number: 353979106673567",
    "Serial Number: F4GZLH2XN72N",
    "IMEI2 Number: 353979106589748",
    "MEID Number: 35397910667356",
    "AppleCare Eligible: OFF",
    "Estimated Purchase Date: 05/12/19",
    "Carrier: Unlocked",
    "Next Tether Policy: 10",
    "Current GSMA Status: Clean",
    "Find My iPhone: ON",
    "SimLock: Unlocked",
]
SAMPLE_CODE = "<br>".join(SAMPLE_PAIRS)
SAMPLE_EXPORT_CODE = (
    "Model: iPhone 11 Purple 64GB - IMEI Number: 353979106673567 - Serial Number: F4GZLH2XN72N"
    " - IMEI2 Number: 353979106589748 - MEID Number: 35397910667356 - AppleCare Eligible: OFF"
    " - Estimated Purchase Date: 05/12/19 - Carrier: Unlocked - Next Tether Policy: 10"
    " - Current GSMA Status: Clean - Find My iPhone: ON - SimLock: Unlocked"
)


def test_it_parses_every_field_of_the_iphone_checker():
    assert parse_result(SAMPLE_CODE) == {
        "model_name": "iPhone 11 Purple 64GB",
        "carrier": "Unlocked",
        "simlock": "Unlocked",
        "fmi": "ON",
        "imei2": "353979106589748",
        "serial": "F4GZLH2XN72N",
        "gsma_status": "Clean",
        "purchase_date": "05/12/19",
        "applecare": "OFF",
        "result_text": "\n".join(SAMPLE_PAIRS),
    }


def test_it_writes_the_code_on_one_line_like_the_vendors_advanced_export():
    assert advanced_export_code(SAMPLE_CODE) == SAMPLE_EXPORT_CODE


@pytest.mark.parametrize(
    "separator", ["<br>", "<br/>", "<br />", "<BR>", "<Br />", "&lt;br&gt;", "&lt;BR /&gt;", "\n"]
)
def test_it_splits_on_every_br_variant(separator):
    parsed = parse_result(f"Carrier: AT&T{separator}SimLock: Locked{separator}")

    assert (parsed["carrier"], parsed["simlock"]) == ("AT&T", "Locked")
    assert parsed["result_text"] == "Carrier: AT&T\nSimLock: Locked"


def test_it_never_splits_a_value_on_a_hyphen():
    parsed = parse_result("Carrier: Sprint/T-Mobile - US<br>Model: iPhone 12-Pro")

    assert (parsed["carrier"], parsed["model_name"]) == ("Sprint/T-Mobile - US", "iPhone 12-Pro")


def test_it_strips_inline_tags_and_entities():
    code = 'Carrier: <span style="color:red">T-Mobile</span><br><b>Find My iPhone:</b> <b>ON</b>'

    parsed = parse_result(code)

    assert (parsed["carrier"], parsed["fmi"]) == ("T-Mobile", "ON")
    assert parsed["result_text"] == "Carrier: T-Mobile\nFind My iPhone: ON"


def test_it_reads_a_code_that_arrives_still_escaped():
    code = "Carrier: AT&amp;amp;T&lt;br&gt;Find My iPhone: &lt;b&gt;OFF&lt;/b&gt;"

    parsed = parse_result(code)

    assert (parsed["carrier"], parsed["fmi"]) == ("AT&T", "OFF")


def test_it_understands_the_alternative_labels():
    parsed = parse_result("SIM Lock: Locked<br>FMI: OFF<br>IMEI 2: 353979106589748")

    assert (parsed["simlock"], parsed["fmi"], parsed["imei2"]) == (
        "Locked",
        "OFF",
        "353979106589748",
    )


def test_it_keeps_a_rejection_reason_as_the_text():
    parsed = parse_result("Invalid_IMEI")

    assert parsed["result_text"] == "Invalid_IMEI"
    assert parsed["carrier"] == parsed["model_name"] == ""
    assert advanced_export_code("Invalid_IMEI") == "Invalid_IMEI"


def test_it_parses_an_empty_code_to_empty_fields():
    assert set(parse_result("").values()) == {""}


def test_it_parses_its_own_result_text_to_the_same_fields():
    assert parse_result(parse_result(SAMPLE_CODE)["result_text"]) == parse_result(SAMPLE_CODE)


def test_it_keeps_values_with_colons_and_the_first_of_repeated_labels():
    parsed = parse_result("Serial: ABC:123<br>Carrier: Verizon<br>Carrier: Unknown")

    assert (parsed["serial"], parsed["carrier"]) == ("ABC:123", "Verizon")


def test_it_cuts_an_overlong_value_to_the_order_field_size():
    parsed = parse_result("IMEI 2: " + "9" * 40)

    assert parsed["imei2"] == "9" * 20
