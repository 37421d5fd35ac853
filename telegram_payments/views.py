from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .api import WebhookView, outcome_response
from .models import EventSource
from .schema import WEBHOOK_RESPONSES, webhook_schema
from .serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer
from .services import (
    Delivery,
    handle_refund,
    handle_successful_payment,
    look_up_delivery,
    payment_event_id,
    redelivered,
    refund_event_id,
)
from .updates import InvalidUpdate, process_update


def _look_up(data, event_id_of) -> Delivery | None:
    """The relay body's event as stored, looked up before validation (None: no usable charge id).

    An identical redelivery is answered from it alone; otherwise it saves the services a lookup.
    """
    charge = data.get("telegram_payment_charge_id") if isinstance(data, dict) else None
    if not isinstance(charge, str) or not charge:
        return None
    entitlement_type = data.get("entitlement_type")
    return look_up_delivery(event_id_of(charge), data, entitlement_type if isinstance(entitlement_type, str) else "")


class RelaySuccessfulPaymentView(WebhookView):
    """POST /webhook/telegram/successful_payment: the original spec's relay format."""

    @webhook_schema(SuccessfulPaymentRelaySerializer, summary="A successful Stars payment, relay format")
    def post(self, request):
        looked_up = _look_up(request.data, payment_event_id)
        if looked_up is not None and looked_up.identical:
            return outcome_response(redelivered(looked_up.event))
        serializer = SuccessfulPaymentRelaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = handle_successful_payment(
            user_id=data["user_id"],
            entitlement_type=data["entitlement_type"],
            invoice_payload=data["invoice_id"],
            telegram_payment_charge_id=data["telegram_payment_charge_id"],
            provider_payment_charge_id=data["provider_payment_charge_id"],
            total_amount=data["total_amount"],
            currency=data["currency"],
            source=EventSource.RELAY,
            payload=request.data,
            looked_up=looked_up,
        )
        return outcome_response(outcome)


class RelayRefundView(WebhookView):
    """POST /webhook/telegram/refund: the original spec's relay format."""

    @webhook_schema(RefundRelaySerializer, summary="A refunded Stars payment, relay format")
    def post(self, request):
        looked_up = _look_up(request.data, refund_event_id)
        if looked_up is not None and looked_up.identical:
            return outcome_response(redelivered(looked_up.event))
        serializer = RefundRelaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        outcome = handle_refund(
            user_id=data["user_id"],
            entitlement_type=data["entitlement_type"],
            telegram_payment_charge_id=data["telegram_payment_charge_id"],
            refund_reason=data["refund_reason"],
            source=EventSource.RELAY,
            payload=request.data,
            looked_up=looked_up,
        )
        return outcome_response(outcome)


class TelegramUpdateView(WebhookView):
    """POST /webhook/telegram: Bot API Updates as Telegram sends them (see `updates.process_update`).

    The answer body may be a Bot API method call (answerPreCheckoutQuery, sendMessage), which
    Telegram then performs.
    """

    @webhook_schema(
        OpenApiTypes.OBJECT,
        summary="A Bot API Update, as Telegram sends it",
        responses={**WEBHOOK_RESPONSES, 200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="Acknowledged: an outcome like the relay's, or a Bot API method call for Telegram "
            "to perform (answerPreCheckoutQuery, sendMessage).",
        )},
    )
    def post(self, request):
        try:
            result = process_update(request.data, source=EventSource.TELEGRAM)
        except InvalidUpdate as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        response = Response(result.body)
        response.outcome = result.outcome or result  # for the webhook log line
        return response
