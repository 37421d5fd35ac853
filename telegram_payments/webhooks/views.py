from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from telegram_payments.bot.updates import InvalidUpdate, process_update
from telegram_payments.models import EventSource
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment, redelivered
from telegram_payments.webhooks import redeliveries
from telegram_payments.webhooks.base import WebhookView, outcome_response
from telegram_payments.webhooks.schema import UPDATE_ANSWER, WEBHOOK_RESPONSES, BotApiUpdateSerializer, webhook_schema
from telegram_payments.webhooks.serializers import RefundRelaySerializer, SuccessfulPaymentRelaySerializer


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

    @webhook_schema(
        SuccessfulPaymentRelaySerializer, summary="A successful Stars payment, relay format",
        description="A successful Stars payment forwarded by a relay in this flat format. Stored once per "
        "telegram_payment_charge_id (a copy answers duplicate) and granted. An unknown or inactive product, an "
        "amount below its price or a currency other than XTR is stored as failed and answered 200, for staff "
        "to review.",
    )
    def post(self, request, bot_path=None):
        return self.answer(request, SuccessfulPaymentRelaySerializer, lambda data: handle_successful_payment(
            bot=self.bot,
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

    @webhook_schema(
        RefundRelaySerializer, summary="A refunded Stars payment, relay format",
        description="A refunded Stars payment forwarded by a relay: revokes what the payment granted. Stored "
        "once per telegram_payment_charge_id (a copy answers duplicate); a refund that arrives before its "
        "payment is kept, and the late payment then grants nothing.",
    )
    def post(self, request, bot_path=None):
        return self.answer(request, RefundRelaySerializer, lambda data: handle_refund(
            bot=self.bot,
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
        BotApiUpdateSerializer,
        summary="A Bot API Update, as Telegram sends it",
        description="The webhook given to Telegram's setWebhook. Payments, refunds (message.successful_payment, "
        "message.refunded_payment) and subscription updates are stored as on the relay endpoints; pre-checkout "
        "queries, bot commands and buy buttons are answered in the response body as a Bot API method call, which "
        "Telegram performs. Other updates are acknowledged and not stored.",
        responses={**WEBHOOK_RESPONSES, 200: OpenApiResponse(
            UPDATE_ANSWER,
            description="Acknowledged: an outcome like the relay's, or a Bot API method call for Telegram "
            "to perform (answerPreCheckoutQuery, sendMessage).",
        )},
    )
    def post(self, request, bot_path=None):
        if (event := redeliveries.recall(request)) is not None:  # a copy of a payment or refund update
            return outcome_response(redelivered(event))
        try:
            result = process_update(request.data, bot=self.bot, source=EventSource.TELEGRAM)
        except InvalidUpdate as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        if result.kind in ("successful_payment", "refunded_payment", "subscription") and result.outcome is not None:
            redeliveries.remember(request, result.outcome.event)
        response = Response(result.body)
        response.outcome = result.outcome or result  # for the webhook log line
        return response
