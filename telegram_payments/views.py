from .api import WebhookView, outcome_response
from .models import EventSource
from .schema import webhook_schema
from .serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer
from .services import handle_refund, handle_successful_payment


class RelaySuccessfulPaymentView(WebhookView):
    """POST /webhook/telegram/successful_payment: the original spec's relay format."""

    @webhook_schema(SuccessfulPaymentRelaySerializer, summary="A successful Stars payment, relay format")
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

    @webhook_schema(RefundRelaySerializer, summary="A refunded Stars payment, relay format")
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
