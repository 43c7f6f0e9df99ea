"""The provider contract canary (submissions/canary.py, provider/contract.py)."""

import pytest

from submissions import alerts, canary, controls
from submissions.models import Alert, ContractCheck, ControlChange
from submissions.provider import GsmFusionClient, ProviderError
from submissions.provider.contract import catalogue_problems, getimeis_problems
from tests.fixtures.factories import make_batch, make_order
from tests.fixtures.provider import provider_sample

DECLARATION = '<?phpxml version="1.0" encoding="utf-8"?>'
PACKAGE = (
    "<Package><PackageId>1739</PackageId><Category>C</Category><PackageTitle>T</PackageTitle>"
    "<PackagePrice>0.08</PackagePrice><TimeTaken>Instant</TimeTaken><MustRead></MustRead>"
    "</Package>"
)


class Answers:
    """A client whose read-only calls answer fixed bodies (or raise)."""

    def __init__(self, catalogue, getimeis=""):
        self.bodies = {"imeiservices": catalogue, "getimeis": getimeis}
        self.asked = []

    def read_body(self, action, **params):
        self.asked.append((action, params))
        body = self.bodies[action]
        if isinstance(body, Exception):
            raise body
        return body


def test_the_captured_answers_keep_the_contract():
    assert catalogue_problems(provider_sample("imeiservices")) == []
    assert catalogue_problems(provider_sample("imeiservices_single")) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            f'<?xml version="1.0"?><Packages>{PACKAGE}</Packages>',
            'the answer does not start with \'<?phpxml version="1.0" encoding="utf-8"?>\'',
        ),
        (
            f"{DECLARATION}<Services>{PACKAGE}</Services>",
            "the root is <Services>, not <Packages>",
        ),
        (
            f"{DECLARATION}<Packages>{PACKAGE.replace('PackagePrice', 'Price')}</Packages>",
            "a <Package> lacks <PackagePrice>",
        ),
        (f"{DECLARATION}<Packages></Packages>", "<Packages> lists no <Package>"),
    ],
)
def test_a_changed_catalogue_answer_is_reported(body, problem):
    assert catalogue_problems(body)[0].startswith(problem)


def test_a_getimeis_answer_with_an_unknown_status_is_reported():
    body = (
        f"{DECLARATION}<result><imeis><id>15562209</id><imei>1</imei><package>P</package>"
        "<status>Done</status><code></code><requestedat>x</requestedat></imeis></result>"
    )

    assert getimeis_problems(body, 15562209) == [
        "status 'Done' is none of Completed, In Process, Pending, Rejected"
    ]


def test_the_fake_provider_keeps_the_contract_and_sending_goes_on(db, fake_provider):
    with GsmFusionClient.from_settings() as client:
        placed = client.place_order("356789012345675", 1739)
        make_order(batch=make_batch(), status="pending", remote_id=placed.remote_id)
        row = canary.check(client)

    assert (row.ok, row.problems) == (True, "")
    calls = fake_provider.stats()["calls"]
    assert calls == {"placeorder": 1, "imeiservices": 1, "getimeis": 1}
    assert not controls.effective().sending_stopped


def test_a_contract_change_stops_sending_once_and_alerts_until_the_answers_are_right(db):
    changed = Answers(f'<?xml version="1.0"?><Packages>{PACKAGE}</Packages>')

    canary.check(changed)
    controls.change(None, sending_stopped=False)  # an operator resumes, knowing
    canary.check(changed)  # the same change again: not stopped a second time

    assert [(c.field, c.new_value) for c in ControlChange.objects.order_by("id")] == [
        ("sending_stopped", "True"),
        ("sending_stopped", "False"),
    ]
    alerts.evaluate()
    detail = Alert.objects.get(key="contract", closed_at=None).detail
    assert "sending was stopped. imeiservices: the answer does not start with" in detail

    canary.check(Answers(f"{DECLARATION}<Packages>{PACKAGE}</Packages>"))
    alerts.evaluate()
    assert not Alert.objects.filter(key="contract", closed_at=None).exists()


def test_a_provider_that_cannot_be_read_is_noted_not_taken_for_a_contract_change(db):
    down = Answers(ProviderError(ProviderError.TRANSIENT, "Could not connect: refused"))

    row = canary.check(down)

    assert (row.ok, row.last_error) == (True, "transient: Could not connect: refused")
    assert not controls.effective().sending_stopped
    assert ContractCheck.objects.count() == 1
