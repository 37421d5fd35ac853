from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from . import redeliveries
from .api import WebhookView, outcome_response
from .bot.updates import InvalidUpdate, process_update
from .models import EventSource
from .payments.pipeline import handle_refund, handle_successful_payment, redelivered
from .schema import WEBHOOK_RESPONSES, webhook_schema
from .serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer


class RelayView(WebhookView):
    """The relay endpoints: a copy of a body already answered costs no query, a new one is validated."""

    def answer(self, request, serializer_class, handle) -> Response:
        """Answer from memory (an identical redelivery, `redeliveries`), else validate and `handle`."""
        if (event := redeliveries.recall(request)) is not None:
            return outcome_response(redelivered(event))
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = handle(serializer.validated_data)
        redeliveries.remember(request, outcome.event)
        return outcome_response(outcome)


class RelaySuccessfulPaymentView(RelayView):
    """POST /webhook/telegram/successful_payment: the original spec's relay format."""

    @webhook_schema(SuccessfulPaymentRelaySerializer, summary="A successful Stars payment, relay format")
    def post(self, request):
        return self.answer(request, SuccessfulPaymentRelaySerializer, lambda data: handle_successful_payment(
            user_id=data["user_id"],
            entitlement_type=data["entitlement_type"],
            invoice_payload=data["invoice_id"],
            telegram_payment_charge_id=data["telegram_payment_charge_id"],
            provider_payment_charge_id=data["provider_payment_charge_id"],
            total_amount=data["total_amount"],
            currency=data["currency"],
            source=EventSource.RELAY,
            payload=request.data,
        ))


class RelayRefundView(RelayView):
    """POST /webhook/telegram/refund: the original spec's relay format."""

    @webhook_schema(RefundRelaySerializer, summary="A refunded Stars payment, relay format")
    def post(self, request):
        return self.answer(request, RefundRelaySerializer, lambda data: handle_refund(
            user_id=data["user_id"],
            entitlement_type=data["entitlement_type"],
            telegram_payment_charge_id=data["telegram_payment_charge_id"],
            refund_reason=data["refund_reason"],
            source=EventSource.RELAY,
            payload=request.data,
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
        if result.kind in ("successful_payment", "refunded_payment", "subscription") and result.outcome is not None:
            redeliveries.remember(request, result.outcome.event)
        response = Response(result.body)
        response.outcome = result.outcome or result  # for the webhook log line
        return response
