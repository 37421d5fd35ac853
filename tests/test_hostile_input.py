"""Hostile input: malformed and mutated bodies never cause a 5xx, and a rejected request stores nothing.

Property-based (hypothesis) over every webhook endpoint in ENDPOINTS. To cover another endpoint
(e.g. the Bot API Update webhook), add an Endpoint with its URL and a builder of a valid body.
"""

import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass
from encodings.aliases import aliases as codec_aliases

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entitlements.models import Entitlement
from telegram_payments.models import StripeEvent
from telegram_payments.webhooks.guards import JSON_CHARSETS
from tests.conftest import answer_status
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

# Modest example counts: the machine is shared; deadline off since the DB sets the pace.
HOSTILE = settings(
    max_examples=150, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALLOWED_STATUSES = {200, 400, 401, 413, 415}


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    valid_body: Callable[[str], dict]  # charge id -> a body the endpoint accepts


def relay_payment(charge: str) -> dict:
    return {"user_id": "123456789", "entitlement_type": "premium_monthly", "invoice_id": "inv_h",
            "telegram_payment_charge_id": charge, "provider_payment_charge_id": "",
            "total_amount": 250, "currency": "XTR"}


def relay_refund(charge: str) -> dict:
    return {"user_id": "123456789", "entitlement_type": "premium_monthly",
            "telegram_payment_charge_id": charge, "refund_reason": "hostile test"}


def update_payment(charge: str) -> dict:
    user = {"id": 123456789, "is_bot": False, "first_name": "Ada"}
    return {"update_id": 704115002, "message": {
        "message_id": 1, "date": 1795000000, "from": user, "chat": {**user, "type": "private"},
        "successful_payment": {"currency": "XTR", "total_amount": 250, "invoice_payload": "inv_h",
                               "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}}}


def update_refund(charge: str) -> dict:
    body = update_payment(charge)
    body["message"]["refunded_payment"] = body["message"].pop("successful_payment")
    del body["message"]["refunded_payment"]["provider_payment_charge_id"]
    return body


ENDPOINTS = [
    Endpoint("relay-payment", "/webhook/telegram/successful_payment", relay_payment),
    Endpoint("relay-refund", "/webhook/telegram/refund", relay_refund),
    Endpoint("update-payment", "/webhook/telegram", update_payment),
    Endpoint("update-refund", "/webhook/telegram", update_refund),
]
endpoint_param = pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)


@pytest.fixture(autouse=True)
def invoice(catalog):
    """The invoice (a link anyone may pay) that the valid bodies pay."""
    return InvoiceFactory(payload="inv_h", user_id=None, product=catalog["premium_monthly"])

# Any JSON value, including the awkward ones: huge and negative numbers, floats, unicode, nesting.
json_scalars = (
    st.none() | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 2**31, -(2**31) - 1])  # column edges
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "0", "-1", "1e3", "٣", "🚀", "XTR", "\u202e", "a" * 300, "9" * 25,
                      "ßßß", "ﬀﬀﬀ", "ǆǆǆ", "xtr", "XT\n"])  # longer (or not letters) once upper-cased
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_bodies(draw, endpoint: Endpoint):
    """A valid body with some fields, at any depth, deleted, replaced by arbitrary JSON, or joined by extra fields."""

    def mutate(obj: dict) -> dict:
        for key in list(obj):
            choices = ["keep", "keep", "delete", "replace"] + (["descend"] * 3 if isinstance(obj[key], dict) else [])
            action = draw(st.sampled_from(choices))
            if action == "delete":
                del obj[key]
            elif action == "replace":
                obj[key] = draw(json_values)
            elif action == "descend":
                obj[key] = mutate(obj[key])
        obj.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=2)))
        return obj

    return mutate(endpoint.valid_body(draw(st.text(min_size=1, max_size=30))))


def raw_json_texts():
    """Bodies that are not one well-formed object of storable values."""
    return st.one_of(
        json_values.map(json.dumps),  # lists, strings, numbers, null at the top
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n),
        st.integers(min_value=1, max_value=5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
        st.sampled_from([
            "", " ", "{", "}", "{}", "[]", "null", "true", '"x"', "NaN", "Infinity", "-Infinity",
            '{"total_amount": NaN}', '{"x": 1e999}', '{"x": -1e999}', '{"x": "\\u0000"}',
            '{"x": "\\ud800"}', '{"\\u0000": 1}', '{"x": ' + "9" * 5000 + "}", "\ufeff{}",
            '{"a": 1, "a": 2}',
        ]),
    )


def row_counts():
    return StripeEvent.objects.count(), Entitlement.objects.count()


def assert_sane(response, before):
    assert response.status_code in ALLOWED_STATUSES, (response.status_code, response.content[:300])
    body = response.json()
    # A payment Update recorded now is answered with a message to the buyer (a Bot API call).
    assert isinstance(body, dict) and ("ok" in body or body.get("method") == "sendMessage")
    if response.status_code != 200:
        assert body["ok"] is False
        assert ("error" in body) or ("errors" in body)  # a machine-readable reason
        assert row_counts() == before, "a rejected request stored something"


@endpoint_param
@HOSTILE
@given(data=st.data())
def test_mutated_bodies_get_4xx_or_200_and_rejected_ones_store_nothing(post_json, catalog, endpoint, data):
    body = data.draw(mutated_bodies(endpoint))
    before = row_counts()
    assert_sane(post_json(endpoint.url, body), before)


@endpoint_param
@HOSTILE
@given(text=raw_json_texts())
def test_malformed_json_is_400_and_stores_nothing(post_json, catalog, endpoint, text):
    before = row_counts()
    response = post_json(endpoint.url, text.encode("utf-8", "surrogatepass"))
    assert_sane(response, before)
    assert response.status_code in {400, 413}


@endpoint_param
@HOSTILE
@given(charge=st.text(min_size=1, max_size=255).filter(lambda c: "\x00" not in c),
       user_id=st.integers(min_value=1, max_value=2**63 - 1))
def test_valid_bodies_with_awkward_but_legal_values_are_200(post_json, catalog, endpoint, charge, user_id):
    body = endpoint.valid_body(charge)
    body["user_id"] = user_id
    response = post_json(endpoint.url, body)
    assert response.status_code == 200, response.content[:300]
    assert answer_status(response.json()) in {"processed", "duplicate"}  # (examples share the database)


@endpoint_param
@HOSTILE
@given(content_type=st.one_of(
    st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/xml", "application/json; charset=utf-16", "application/json; charset=nope",
                     "application/json; charset=latin-1", "", "*/*", "application/jsonx"]),
    st.text(max_size=30),
))
def test_any_content_type_is_handled_without_a_5xx(post_json, catalog, endpoint, content_type):
    body = json.dumps(endpoint.valid_body("ctype-charge")).encode()
    before = row_counts()
    response = post_json(endpoint.url, body, content_type=content_type)
    assert_sane(response, before)


# Every codec Python knows by name, text encodings and the others (bz2, zlib, base64, rot13, ...).
CODEC_NAMES = sorted(set(codec_aliases) | set(codec_aliases.values()) | {"rot13", "unicode_escape", "idna"})


# What an HTTP server passes on in a header value (gunicorn refuses NUL and other controls).
HEADER_CHARACTERS = st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f")


def _encode(text: str, charset: str) -> bytes | None:
    """`text` as the codec named `charset` would have it, if it can."""
    try:
        encoded = codecs.encode(text, charset)
    except Exception:
        try:
            encoded = codecs.encode(text.encode(), charset)
        except Exception:
            return None
    return encoded.encode() if isinstance(encoded, str) else encoded


@endpoint_param
@HOSTILE
@given(charset=st.one_of(st.sampled_from(CODEC_NAMES), st.text(HEADER_CHARACTERS, max_size=20)), encode=st.booleans(),
       case=st.sampled_from([str.lower, str.upper]))
def test_any_charset_is_handled_and_only_utf_8_16_32_are_read(post_json, catalog, endpoint, charset, encode, case):
    text = json.dumps(endpoint.valid_body(f"charset-{charset[:20]}"))
    raw = (_encode(text, charset) if encode else None) or text.encode()
    before = row_counts()
    response = post_json(endpoint.url, raw, content_type=f"application/json; charset={case(charset)}")
    assert_sane(response, before)
    try:
        readable = codecs.lookup(charset).name in JSON_CHARSETS
    except (LookupError, ValueError):
        readable = False
    if not readable:
        assert response.status_code == 415, (charset, response.content[:200])


def edge_integers():
    return st.one_of(
        st.integers(), st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30]),
    )


@endpoint_param
@HOSTILE
@given(update_id=edge_integers(), currency=st.one_of(st.text(min_size=1, max_size=4), st.sampled_from(
    ["ßßß", "ﬀﬀﬀ", "ŉŉŉ", "ǆǆǆ", "İİİ", "ＸＴＲ", "XT\n", "xtr", "XTR"])), user_id=edge_integers(),
       charge=st.uuids().map(str))
def test_stored_fields_out_of_range_or_odd_are_4xx_or_200(post_json, catalog, endpoint, update_id, currency, user_id,
                                                          charge):
    body = endpoint.valid_body(charge)  # a new charge each time: a copy would be answered before the insert
    if "message" in body:  # an Update: its update_id and the payment's currency are stored
        body["update_id"] = update_id
        part = body["message"].get("successful_payment") or body["message"]["refunded_payment"]
        part["currency"] = currency
        body["message"]["chat"]["id"] = body["message"]["from"]["id"] = user_id
    else:
        body["user_id"] = user_id
        if "total_amount" in body:
            body["currency"] = currency
    before = row_counts()
    assert_sane(post_json(endpoint.url, body), before)


@endpoint_param
def test_json_with_nul_surrogate_or_infinity_is_400_not_a_database_error(post_json, catalog, endpoint):
    valid = json.dumps(endpoint.valid_body("storable"))[:-1]
    for extra in ['"x": "a\\u0000b"', '"x": "\\udc00"', '"x": 1e999', '"x": ' + "[" * 100 + "]" * 100]:
        response = post_json(endpoint.url, f"{valid}, {extra}}}")
        assert response.status_code == 400, (extra[:20], response.content)
        assert response.json()["ok"] is False
    assert row_counts() == (0, 0)


@endpoint_param
def test_body_over_64_kib_is_413_and_at_the_limit_is_accepted(post_json, catalog, endpoint, stars):
    assert stars.WEBHOOK_MAX_BODY_BYTES == 64 * 1024
    body = endpoint.valid_body("big-body")
    body["padding"] = ""
    overhead = len(json.dumps(body).encode())
    body["padding"] = "x" * (64 * 1024 - overhead)
    at_limit = json.dumps(body).encode()
    assert len(at_limit) == 64 * 1024
    assert post_json(endpoint.url, at_limit).status_code == 200
    too_big = json.dumps({**body, "padding": body["padding"] + "x"}).encode()
    response = post_json(endpoint.url, too_big)
    assert response.status_code == 413
    assert response.json() == {"ok": False, "error": "body_too_large", "detail": "Request body is too large."}
    assert row_counts()[0] == 1  # only the one at the limit


@endpoint_param
@pytest.mark.parametrize("secret", [
    False, "", " ", "wrong", "test-webhook-secret-012345678", "test-webhook-secret-0123456789 ",
    "TEST-WEBHOOK-SECRET-0123456789", "test-webhook-secret-0123456789x", "тест-secret", "x" * 10000,
])
def test_wrong_or_missing_secret_is_401_and_stores_nothing(post_json, catalog, endpoint, secret):
    response = post_json(endpoint.url, endpoint.valid_body("secret-charge"), secret=secret)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert row_counts() == (0, 0)


@endpoint_param
@pytest.mark.parametrize("declared", ["70000", "999999999999"])
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(client, webhook_secret, endpoint, declared):
    response = client.generic(
        "POST", endpoint.url, json.dumps(endpoint.valid_body("declared")), content_type="application/json",
        CONTENT_LENGTH=declared, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=webhook_secret,
    )
    assert response.status_code == 413
    assert row_counts() == (0, 0)


@endpoint_param
def test_the_413_limit_only_applies_after_the_secret_check(post_json, endpoint):
    # An unauthenticated client learns nothing about the body limit, and cannot make us read big bodies.
    response = post_json(endpoint.url, b"x" * (64 * 1024 + 1), secret="wrong")
    assert response.status_code == 401


@endpoint_param
def test_a_key_with_nul_or_a_lone_surrogate_is_stored_escaped(post_json, catalog, endpoint):
    """The schema (OpenAPI 3.0) cannot restrict key names, so the server takes what it allows: such a
    key, which nothing reads, is stored with NUL and lone surrogates written as their escapes."""
    valid = json.dumps(endpoint.valid_body("odd-keys"))[:-1]
    response = post_json(endpoint.url, f'{valid}, "a\\u0000b": {{"\\udc00": 1}}}}')
    assert response.status_code == 200, response.content
    assert StripeEvent.objects.get().payload["a\\u0000b"] == {"\\udc00": 1}
