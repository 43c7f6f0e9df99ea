"""An unhandled exception reaches ADMINS by mail; a filter value out of range is a message."""

import pytest
from django.core import mail
from django.test import Client

from portal import errors, health

LIST = "/admin/orders/order/"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("created_at__to=9999-12-31", "'9999-12-31' is out of range"),
        ("created_at__from=10000-01-01", "'10000-01-01' is not a date (YYYY-MM-DD)"),
    ],
)
def test_a_date_filter_out_of_range_is_a_message_not_a_500(staff_client, query, said):
    response = staff_client.get(f"{LIST}?{query}", follow=True)

    assert response.redirect_chain == [(f"{LIST}?e=1", 302)]
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        f"The date filter was not applied: {said}."
    ]


def test_an_unhandled_exception_is_mailed_to_admins(db, settings, monkeypatch):
    settings.ADMINS = [("ops@example.com", "ops@example.com")]

    def broken(now):
        raise RuntimeError("the cache went away")

    monkeypatch.setattr(health, "assess", broken)
    response = Client(raise_request_exception=False).get("/health/")

    assert response.status_code == 500
    (sent,) = mail.outbox
    assert sent.to == ["ops@example.com"]
    assert sent.subject.startswith(
        "[IMEI portal] ERROR (EXTERNAL IP): Internal Server Error: /health/"
    )
    assert "RuntimeError at /health/\nthe cache went away" in sent.body
    assert settings.GSM_FUSION_API_KEY not in sent.body  # the settings dump hides *API*


def test_sentry_events_lose_the_api_key_and_every_imei_wherever_they_are():
    scrub = errors.before_send(["K-123-SECRET", ""])
    event = {
        "exception": {
            "values": [
                {
                    "value": "placeorder failed for 356938035643809",
                    "stacktrace": {
                        "frames": [{"vars": {"data": "apiKey=K-123-SECRET&imei=356938035643809"}}]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [{"message": "GET /admin/orders/order/?q=356938035643809,3569380356438091"}]
        },
        "extra": {"count": 3},
    }

    assert scrub(event, {}) == {
        "exception": {
            "values": [
                {
                    "value": "placeorder failed for [IMEI]",
                    "stacktrace": {"frames": [{"vars": {"data": "apiKey=[Filtered]&imei=[IMEI]"}}]},
                }
            ]
        },
        # 16 digits is no IMEI: left as it is.
        "breadcrumbs": {
            "values": [{"message": "GET /admin/orders/order/?q=[IMEI],3569380356438091"}]
        },
        "extra": {"count": 3},
    }
