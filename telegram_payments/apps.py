from django.apps import AppConfig


class TelegramPaymentsConfig(AppConfig):
    name = "telegram_payments"
    verbose_name = "Telegram Stars payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from telegram_payments import checks  # noqa: F401 - registers the settings checks
        from telegram_payments.registry import bots  # noqa: F401 - forgets the bots when one is saved
