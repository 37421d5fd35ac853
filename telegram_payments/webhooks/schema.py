"""OpenAPI descriptions of the webhook endpoints (drf-spectacular), shared by every webhook view.

`@webhook_schema(RequestSerializer, summary=...)` on a webhook view's `post` documents the secret
header, the request body and every answer of the webhook contract (README, "Webhook contract").
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from entitlements.api_errors import ErrorSerializer, FalseField, TrueField, error_response
from telegram_payments.telegram_api.limits import MAX_BIGINT, MIN_BIGINT
from telegram_payments.webhooks.serializers import WebhookBodySerializer

# What the webhook parser (guards.load_storable_json) admits in a body, in JSON Schema: no string
# holds NUL or a lone surrogate (PostgreSQL can store neither), in a declared field or anywhere in
# what a serializer does not declare (extra keys of a relay body, everything of an Update but its
# update_id). Lone surrogates are refused too, said in the description only: no pattern names them
# portably (Rust's and ECMA-262's engines read surrogates differently from Python's re). Keys are
# free (OpenAPI 3.0 has no propertyNames): the parser stores NUL and lone surrogates in a key escaped.
STORABLE_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
STORABLE_JSON = "StorableJSON"
STORABLE_REF = {"$ref": f"#/components/schemas/{STORABLE_JSON}"}
STORABLE_SCHEMA = {
    "description": "Any JSON value in which no string holds NUL (\\u0000) or a lone surrogate (both 400). "
                   "A key may hold either: it is stored with them escaped (\\\\u0000).",
    "nullable": True,
    "anyOf": [
        {"type": "boolean"}, {"type": "number"}, STORABLE_TEXT,
        {"type": "array", "items": STORABLE_REF},
        {"type": "object", "additionalProperties": STORABLE_REF},
    ],
}


def storable_body(auto_schema, schema: dict) -> dict:
    """`schema` of a webhook body object, saying what the parser stores: no string with NUL or a lone
    surrogate in its declared fields, nor in what its undeclared keys hold (STORABLE_SCHEMA)."""
    auto_schema.registry.register_on_missing(ResolvedComponent(
        name=STORABLE_JSON, type=ResolvedComponent.SCHEMA, object=STORABLE_JSON, schema=STORABLE_SCHEMA))
    properties = {name: _storable_field(field) for name, field in schema.get("properties", {}).items()}
    return {**schema, "properties": properties, "additionalProperties": STORABLE_REF}


def _storable_field(field: dict) -> dict:
    """A declared field's schema with STORABLE_TEXT's pattern on each string it allows (beside its own)."""
    if "oneOf" in field:
        return {**field, "oneOf": [_storable_field(option) for option in field["oneOf"]]}
    if field.get("type") != "string":
        return field
    if "pattern" not in field:
        return {**field, "pattern": STORABLE_TEXT["pattern"]}
    return {**field, "allOf": [*field.get("allOf", []), {"pattern": STORABLE_TEXT["pattern"]}]}


class WebhookBodyExtension(OpenApiSerializerExtension):
    """Every webhook request body says what its undeclared keys may hold (`storable_body`)."""

    target_class = "telegram_payments.webhooks.serializers.WebhookBodySerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return storable_body(auto_schema, schema)


class WebhookOutcomeSerializer(serializers.Serializer):
    ok = TrueField()
    status = serializers.ChoiceField(choices=["processed", "duplicate", "failed"],
                                     help_text="What this delivery did.")
    event_id = serializers.CharField(help_text="e.g. tg_stars:payment:<telegram_payment_charge_id>")
    event_status = serializers.ChoiceField(choices=["pending", "processed", "failed"],
                                           help_text="The stored event's status.")


class WebhookValidationErrorSerializer(serializers.Serializer):
    ok = FalseField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Field name (or body) to messages; nothing was stored.")


class BotApiUpdateSerializer(WebhookBodySerializer):
    """A Bot API Update (https://core.telegram.org/bots/api#update): update_id is required of every
    update. message, callback_query, pre_checkout_query and subscription are read as the Bot API
    defines them, and a field of theirs that is not what Telegram sends (a chat without an integer id,
    a user id (sender, buyer, subscriber) outside 1..2^63-1, text that is not a string, a currency
    that is not 3 letters, an amount outside 1..2^31-1) is a 400.
    Other update kinds are acknowledged and not stored. Other fields are allowed."""

    update_id = serializers.IntegerField(min_value=MIN_BIGINT, max_value=MAX_BIGINT,
                                         help_text="The update's id, as Telegram numbers them.")


# The 200 answer of POST /webhook/telegram: one of three shapes.
UPDATE_ANSWER = {
    "oneOf": [
        {"$ref": "#/components/schemas/WebhookOutcome"},
        {"type": "object", "description": "A chat update answered, ignored, or whose reply failed (logged).",
         "properties": {"ok": {"type": "boolean", "enum": [True]},
                        "status": {"type": "string", "enum": ["answered", "ignored", "failed"]}},
         "required": ["ok", "status"]},
        {"type": "object", "description": "A Bot API method call for Telegram to perform.",
         "properties": {"method": {"type": "string", "enum": ["answerPreCheckoutQuery", "sendMessage"]}},
         "required": ["method"]},
    ],
}

SECRET_HEADER_PARAMETER = OpenApiParameter(
    "X-Telegram-Bot-Api-Secret-Token", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="Equal to TELEGRAM_WEBHOOK_SECRET (the secret_token given to setWebhook).",
)

WEBHOOK_RESPONSES = {
    200: OpenApiResponse(WebhookOutcomeSerializer, description="Stored (processed, duplicate or failed)."),
    400: error_response(
        "Malformed JSON, or a field that is not valid (see errors); nothing stored.", "invalid",
        serializer=WebhookValidationErrorSerializer,
        body={"ok": False, "errors": {"currency": ["Must be a 3-letter currency code, e.g. XTR."]}},
    ),
    401: error_response("Missing or wrong secret header.", "unauthorized",
                        detail="Missing or wrong X-Telegram-Bot-Api-Secret-Token header."),
    403: error_response("TELEGRAM_IP_ALLOWLIST is on and the request comes from outside TELEGRAM_IP_RANGES.",
                        "forbidden_source"),
    404: error_response("No such URL.", "not_found", detail="No such URL."),
    411: error_response("A chunked body (Transfer-Encoding: chunked): send it with a Content-Length header.",
                        "length_required"),
    413: error_response("Body over WEBHOOK_MAX_BODY_BYTES.", "body_too_large"),
    415: error_response("Not application/json, or a charset other than UTF-8, UTF-16 or UTF-32.",
                        "unsupported_media_type"),
    429: error_response("Too many requests with a missing or wrong secret from this address; see Retry-After. "
                        "A request with the right secret is never refused this way.", "too_many_auth_failures"),
    503: error_response("Database unavailable; retry later (Retry-After).", "database_unavailable"),
}


def webhook_schema(request_serializer, *, summary: str, description: str, responses: dict | None = None):
    return extend_schema(
        summary=summary,
        description=description,
        request={"application/json": request_serializer},
        responses=responses or WEBHOOK_RESPONSES,
        parameters=[SECRET_HEADER_PARAMETER],
        auth=[],
        tags=["webhooks"],
    )


__all__ = ["ErrorSerializer", "WEBHOOK_RESPONSES", "UPDATE_ANSWER", "BotApiUpdateSerializer", "webhook_schema"]
