from django.urls import path, register_converter

from telegram_payments.webhooks import views


class BotPathConverter:
    """A bot's webhook path segment (`Bot.webhook_path`): 32 to 64 URL-safe characters, else no match (404)."""

    regex = "[A-Za-z0-9_-]{32,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(BotPathConverter, "botpath")

urlpatterns = [
    # The default bot's (the one configured in TELEGRAM_STARS): one bot's URLs, as they always were.
    path("webhook/telegram/successful_payment", views.RelaySuccessfulPaymentView.as_view(),
         name="relay-successful-payment"),
    path("webhook/telegram/refund", views.RelayRefundView.as_view(), name="relay-refund"),
    path("webhook/telegram", views.TelegramUpdateView.as_view(), name="telegram-webhook"),
    # Each bot's own (the default bot's too), at its unguessable path, checked against its own secret.
    path("webhook/bot/<botpath:bot_path>/successful_payment", views.RelaySuccessfulPaymentView.as_view(),
         name="bot-relay-successful-payment"),
    path("webhook/bot/<botpath:bot_path>/refund", views.RelayRefundView.as_view(), name="bot-relay-refund"),
    path("webhook/bot/<botpath:bot_path>", views.TelegramUpdateView.as_view(), name="bot-webhook"),
]
