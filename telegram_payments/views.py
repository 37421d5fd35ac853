from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .api import WebhookView, outcome_response
from .models import EventSource
from .serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer
from .services import handle_refund, handle_successful_payment
from .updates import InvalidUpdate, process_update


class RelaySuccessfulPaymentView(WebhookView):
    """POST /webhook/telegram/successful_payment: the original spec's relay format."""

    def post(self, request):
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
        )
        return outcome_response(outcome)


class RelayRefundView(WebhookView):
    """POST /webhook/telegram/refund: the original spec's relay format."""

    def post(self, request):
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
        )
        return outcome_response(outcome)


class TelegramUpdateView(WebhookView):
    """POST /webhook/telegram: Bot API Updates as Telegram sends them (see `updates.process_update`).

    The answer body may be a Bot API method call (answerPreCheckoutQuery, sendMessage), which
    Telegram then performs.
    """

    def post(self, request):
        try:
            result = process_update(request.data, source=EventSource.TELEGRAM)
        except InvalidUpdate as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(result.body)
