"""Schemathesis against the OpenAPI schema /api/schema/ serves (built by the same generator): every
request the schema allows is accepted, every one it forbids is refused, and every answer is a
documented status with a documented JSON body.

All of Schemathesis's checks, 60 examples per operation, derandomized (the same requests every run),
against a live server on the test database (PostgreSQL or SQLite), with the right webhook secret and
an entitlements API token (the checks also send none or wrong ones). Any finding fails the test.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token

from telegram_payments.webhooks.schema import STORABLE_TEXT

pytestmark = pytest.mark.django_db(transaction=True)  # live_server: the server thread sees committed rows

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
# Schemathesis's defaults otherwise (NUL allowed in what it generates): the schema itself says which
# strings the server refuses (telegram_payments.schema.STORABLE_TEXT), and keys it cannot restrict
# the server takes (guards.storable_key).
schema.config.generation.update(max_examples=60, deterministic=True)


@pytest.fixture
def credentials(stars):
    service = get_user_model().objects.create_user("fuzzing-service")
    token = Token.objects.create(user=service)
    return {"Authorization": f"Token {token.key}",
            "X-Telegram-Bot-Api-Secret-Token": stars.WEBHOOK_SECRET}


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # credentials: one per test
def test_api_answers_as_its_schema_says(case, live_server, credentials):
    case.call_and_validate(base_url=live_server.url, headers=credentials)


# Random examples seldom reach a limit exactly; these requests sit on each side of every limit the
# relay schemas state (a string of maxLength and one more, an integer at and past each bound).
RELAY_BODIES = {
    "/webhook/telegram/successful_payment": (
        "SuccessfulPaymentRelay",
        {"user_id": 42, "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "c",
         "total_amount": 250, "currency": "XTR"},
    ),
    "/webhook/telegram/refund": ("RefundRelay", {"user_id": 42, "telegram_payment_charge_id": "c"}),
}


def _limits(properties: dict):
    """(field, value the schema allows, value it forbids) at each stated limit."""
    for name, field in properties.items():
        for option in field.get("oneOf", [field]):
            if option.get("type") == "string" and "maxLength" in option and option.get("pattern") in (
                    None, STORABLE_TEXT["pattern"]):  # "x" fits no other pattern
                yield name, "x" * option["maxLength"], "x" * (option["maxLength"] + 1)
            if option.get("type") == "integer":
                yield name, option["maximum"], option["maximum"] + 1
                yield name, option["minimum"], option["minimum"] - 1


@pytest.mark.django_db  # no live server: the usual rolled-back transaction
@pytest.mark.parametrize("url", list(RELAY_BODIES))
def test_relay_limits_are_where_the_schema_says(post_json, catalog, url):
    component, base = RELAY_BODIES[url]
    properties = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"][component][
        "properties"]
    limits = list(_limits(properties))
    assert {name for name, _, _ in limits} >= {"user_id", "telegram_payment_charge_id"}
    for n, (name, allowed, forbidden) in enumerate(limits):
        body = {**base, "telegram_payment_charge_id": f"limit-{n}", name: allowed}  # a new charge each time
        assert post_json(url, body).status_code == 200, (name, allowed)
        response = post_json(url, {**body, name: forbidden})
        assert response.status_code == 400 and name in response.json()["errors"], (name, len(str(forbidden)))
