from django.urls import path

from telegram_payments.webhooks import views

urlpatterns = [
    path("webhook/telegram/successful_payment", views.RelaySuccessfulPaymentView.as_view(),
         name="relay-successful-payment"),
    path("webhook/telegram/refund", views.RelayRefundView.as_view(), name="relay-refund"),
    path("webhook/telegram", views.TelegramUpdateView.as_view(), name="telegram-webhook"),
]
