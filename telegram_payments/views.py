from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from . import redeliveries
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


class RelayView(WebhookView):
    """The relay endpoints: a copy of a body already answered costs no query, a new one is validated."""

    event_id_of = None  # payment_event_id or refund_event_id

    def answer(self, request, serializer_class, handle) -> Response:
        """Answer from memory (an identical redelivery, `redeliveries`), else from one lookup of the
        body's event (an identical one stored), else validate and `handle(validated_data, looked_up)`."""
        if (event := redeliveries.recall(request)) is not None:
            return outcome_response(redelivered(event))
        looked_up = self.look_up(request.data)
        if looked_up is not None and looked_up.identical:
            outcome = redelivered(looked_up.event)
        else:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            outcome = handle(serializer.validated_data, looked_up)
        redeliveries.remember(request, outcome.event)
        return outcome_response(outcome)

    def look_up(self, data) -> Delivery | None:
        """The body's event as stored, and its product, before validation (None: no usable charge id)."""
        charge = data.get("telegram_payment_charge_id") if isinstance(data, dict) else None
        if not isinstance(charge, str) or not charge:
            return None
        entitlement_type = data.get("entitlement_type")
        return look_up_delivery(
            type(self).event_id_of(charge), data, entitlement_type if isinstance(entitlement_type, str) else ""
        )


class RelaySuccessfulPaymentView(RelayView):
    """POST /webhook/telegram/successful_payment: the original spec's relay format."""

    event_id_of = payment_event_id

    @webhook_schema(SuccessfulPaymentRelaySerializer, summary="A successful Stars payment, relay format")
    def post(self, request):
        return self.answer(request, SuccessfulPaymentRelaySerializer, lambda data, looked_up: handle_successful_payment(
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
        ))


class RelayRefundView(RelayView):
    """POST /webhook/telegram/refund: the original spec's relay format."""

    event_id_of = refund_event_id

    @webhook_schema(RefundRelaySerializer, summary="A refunded Stars payment, relay format")
    def post(self, request):
        return self.answer(request, RefundRelaySerializer, lambda data, looked_up: handle_refund(
            user_id=data["user_id"],
            entitlement_type=data["entitlement_type"],
            telegram_payment_charge_id=data["telegram_payment_charge_id"],
            refund_reason=data["refund_reason"],
            source=EventSource.RELAY,
            payload=request.data,
            looked_up=looked_up,
        ))


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
        if (event := redeliveries.recall(request)) is not None:  # a copy of a payment or refund update
            return outcome_response(redelivered(event))
        try:
            result = process_update(request.data, source=EventSource.TELEGRAM)
        except InvalidUpdate as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        if result.kind in ("successful_payment", "refunded_payment") and result.outcome is not None:
            redeliveries.remember(request, result.outcome.event)
        response = Response(result.body)
        response.outcome = result.outcome or result  # for the webhook log line
        return response
