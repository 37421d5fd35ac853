"""Stars invoices: issue an `Invoice` row and ask Telegram for its link.

Minimal version written for the `create_invoice_link` command; the bot's invoice work may replace it
with the same signature.
"""

from telegram import LabeledPrice

from .bot import call_bot
from .models import STARS_CURRENCY, Invoice, Product

SUBSCRIPTION_PERIOD_SECONDS = 2592000  # 30 days: the only period Telegram accepts for Stars subscriptions


def create_invoice_link(*, product: Product, user_id: int | None = None) -> str:
    """Record an invoice for `product` (at today's price, for `user_id` or anyone) and return its t.me link."""
    period = SUBSCRIPTION_PERIOD_SECONDS if product.is_subscription else None
    invoice = Invoice.objects.create(
        product=product, user_id=user_id, price_stars=product.price_stars, subscription_period=period
    )
    return call_bot(
        "createInvoiceLink",
        lambda bot: bot.create_invoice_link(
            title=product.title,
            description=product.description,
            payload=invoice.payload,
            provider_token="",
            currency=STARS_CURRENCY,
            prices=[LabeledPrice(product.title, invoice.price_stars)],
            subscription_period=period,
        ),
    )
