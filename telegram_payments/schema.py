"""OpenAPI descriptions of the webhook endpoints (drf-spectacular), shared by every webhook view.

`@webhook_schema(RequestSerializer, summary=...)` on a webhook view's `post` documents the secret
header, the request body and every answer of the webhook contract (README, "Webhook contract").
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers


class WebhookOutcomeSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["processed", "duplicate", "failed"],
                                     help_text="What this delivery did.")
    event_id = serializers.CharField(help_text="e.g. tg_stars:payment:<telegram_payment_charge_id>")
    event_status = serializers.ChoiceField(choices=["pending", "processed", "failed"],
                                           help_text="The stored event's status.")


class WebhookErrorSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(help_text="Machine-readable reason, e.g. unauthorized, body_too_large.")
    detail = serializers.CharField(required=False)


class WebhookValidationErrorSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Field name to messages; nothing was stored.")


SECRET_HEADER_PARAMETER = OpenApiParameter(
    "X-Telegram-Bot-Api-Secret-Token", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="Equal to TELEGRAM_WEBHOOK_SECRET (the secret_token given to setWebhook).",
)

WEBHOOK_RESPONSES = {
    200: OpenApiResponse(WebhookOutcomeSerializer, description="Stored (processed, duplicate or failed)."),
    400: OpenApiResponse(WebhookValidationErrorSerializer, description="Malformed or invalid body; nothing stored."),
    401: OpenApiResponse(WebhookErrorSerializer, description="Missing or wrong secret header."),
    413: OpenApiResponse(WebhookErrorSerializer, description="Body over WEBHOOK_MAX_BODY_BYTES."),
    415: OpenApiResponse(WebhookErrorSerializer, description="Not application/json."),
    503: OpenApiResponse(WebhookErrorSerializer, description="Database unavailable; retry later."),
}


def webhook_schema(request_serializer, *, summary: str, responses: dict | None = None):
    return extend_schema(
        summary=summary,
        request=request_serializer,
        responses=responses or WEBHOOK_RESPONSES,
        parameters=[SECRET_HEADER_PARAMETER],
        auth=[],
        tags=["webhooks"],
    )
