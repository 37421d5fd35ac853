"""Issuing Telegram Stars invoices: an invoice message (`sendInvoice`) or an invoice link (`createInvoiceLink`).

Each invoice is first written as an `Invoice` row whose `payload` (our id, at most 128 bytes) is what
Telegram hands back on pre-checkout and payment; the row keeps the price at issue time. Stars
invoices have currency `XTR`, exactly one price and an empty provider token. Subscription products
exist only as invoice links with Telegram's one allowed period, 30 days.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from telegram import LabeledPrice

from entitlements.locks import lock_for_transaction
from telegram_payments.models import STARS_CURRENCY, Invoice, InvoiceStatus, Product
from telegram_payments.registry import bots
from telegram_payments.telegram_api.client import BotApiError, call_bot
from telegram_payments.telegram_api.limits import SUBSCRIPTION_PERIOD

logger = logging.getLogger(__name__)

SUBSCRIPTION_PERIOD_SECONDS = int(SUBSCRIPTION_PERIOD.total_seconds())  # createInvoiceLink counts seconds
MAX_START_PARAMETER_LENGTH = 64  # Telegram's limit for deep-link parameters
# A buyer asking again within this time gets the invoice issued before (a redelivered /buy included).
REUSE_OPEN_INVOICE_FOR = timedelta(minutes=10)
# At most this many open invoices issued to one user in the last day; then no new one.
MAX_OPEN_INVOICES_PER_DAY = 10


class InvoiceError(Exception):
    """This product cannot be invoiced this way (unknown, not on sale, subscription sent as a message)."""


class TooManyOpenInvoices(InvoiceError):
    """The user has MAX_OPEN_INVOICES_PER_DAY open invoices: pay one of those first."""


@dataclass(frozen=True)
class IssuedInvoice:
    invoice: Invoice
    link: str = ""  # create_invoice_link only
    message_id: int | None = None  # send_invoice only
    reused: bool = False  # an open invoice issued to this user shortly before: nothing was sent


def resolve_product(product: Product | str, *, bot=None) -> Product:
    """The active catalog product given as a `Product`, or by its entitlement type in `bot`'s catalog
    (None: the default bot's)."""
    if not isinstance(product, Product):
        found = Product.objects.filter(bot=bot or bots.default(), entitlement_type=product).first()
        if found is None:
            raise InvoiceError(f"unknown product {product!r}")
        product = found
    if not product.is_active:
        raise InvoiceError(f"product {product.entitlement_type!r} is not on sale")
    return product


def start_parameter_for(product: Product) -> str:
    """`buy_<type>`: forwarded copies of an invoice message then open the bot with /start buy_<type>
    (a fresh invoice for whoever forwarded it) instead of offering the original buyer's Pay button."""
    parameter = f"buy_{product.entitlement_type}"
    return parameter if len(parameter) <= MAX_START_PARAMETER_LENGTH else ""


def send_invoice(
    *, product: Product | str, user_id: int, chat_id: int | None = None, reuse_recent: bool = False,
    update_id: int | None = None, bot=None,
) -> IssuedInvoice:
    """Send a Stars invoice message for a one-time `product` to `chat_id` (default: the user's private chat).

    The invoice is issued to `user_id`: pre-checkout declines anyone else. If the Bot API refuses, the
    invoice row is marked expired and `BotApiError` propagates. `reuse_recent` (a buyer asking in the
    chat, `update_id` the update asking): an open invoice for the same product and price issued to the
    user shortly before is returned instead (`reused`, nothing sent), and at most
    MAX_OPEN_INVOICES_PER_DAY are issued. It is sent by the product's bot (`bot`: whose catalog a type
    names).
    """
    product = resolve_product(product, bot=bot)
    if product.is_subscription:
        raise InvoiceError(f"{product.entitlement_type!r} is a subscription: Telegram sells those by invoice link only")
    invoice, reused = _open_invoice(product=product, user_id=user_id, subscription_period=None,
                                    reuse_recent=reuse_recent, update_id=update_id)
    if reused:
        return IssuedInvoice(invoice=invoice, reused=True)
    try:
        message = call_bot(
            "sendInvoice",
            lambda api: api.send_invoice(
                chat_id=chat_id if chat_id is not None else user_id,
                title=product.title,
                description=product.description,
                payload=invoice.payload,
                currency=STARS_CURRENCY,
                prices=[LabeledPrice(product.title, invoice.price_stars)],
                provider_token="",
                start_parameter=start_parameter_for(product) or None,
            ),
            bot=bots.get(product.bot_id),
        )
    except BotApiError:
        _expire(invoice)
        raise
    return IssuedInvoice(invoice=invoice, message_id=message.message_id)


def create_invoice_link(
    *, product: Product | str, user_id: int | None = None, reuse_recent: bool = False,
    update_id: int | None = None, bot=None,
) -> IssuedInvoice:
    """Create a Stars invoice link for `product`; a subscription product renews every 30 days.

    With `user_id`, only that user may pay it (pre-checkout declines others); without, anyone with
    the link may. If the Bot API refuses, the invoice row is marked expired and `BotApiError` propagates.
    `reuse_recent`: as for `send_invoice` (the earlier link is returned). `bot`: as for `send_invoice`.
    """
    product = resolve_product(product, bot=bot)
    period = SUBSCRIPTION_PERIOD_SECONDS if product.is_subscription else None
    invoice, reused = _open_invoice(product=product, user_id=user_id, subscription_period=period,
                                    reuse_recent=reuse_recent and user_id is not None, update_id=update_id)
    if reused:
        return IssuedInvoice(invoice=invoice, link=invoice.link, reused=True)
    try:
        link = call_bot(
            "createInvoiceLink",
            lambda api: api.create_invoice_link(
                title=product.title,
                description=product.description,
                payload=invoice.payload,
                currency=STARS_CURRENCY,
                prices=[LabeledPrice(product.title, invoice.price_stars)],
                provider_token="",
                subscription_period=period,
            ),
            bot=bots.get(product.bot_id),
        )
    except BotApiError:
        _expire(invoice)
        raise
    Invoice.objects.filter(pk=invoice.pk).update(link=link)
    invoice.link = link
    return IssuedInvoice(invoice=invoice, link=link)


def _open_invoice(
    *, product: Product, user_id: int | None, subscription_period: int | None, reuse_recent: bool,
    update_id: int | None,
) -> tuple[Invoice, bool]:
    """(invoice, reused): the user's recent open invoice for this product and price, or a new one.

    Under a per-user lock, so that copies of one request arriving at once make one invoice.
    """
    if not reuse_recent:
        return _new_invoice(product=product, user_id=user_id, subscription_period=subscription_period,
                            update_id=update_id), False
    now = timezone.now()
    with transaction.atomic():
        bot = bots.get(product.bot_id)
        lock_for_transaction(f"invoices:{bot.event_namespace}{user_id}")
        open_invoices = Invoice.objects.filter(bot=bot, user_id=user_id, status=InvoiceStatus.OPEN)
        recent = (open_invoices.filter(product=product, price_stars=product.price_stars,
                                       subscription_period=subscription_period,
                                       created_at__gte=now - REUSE_OPEN_INVOICE_FOR)
                  .exclude(subscription_period__isnull=False, link="")
                  .order_by("-created_at").first())
        if recent is not None:
            return recent, True
        if open_invoices.filter(created_at__gte=now - timedelta(days=1)).count() >= MAX_OPEN_INVOICES_PER_DAY:
            raise TooManyOpenInvoices(f"user {user_id} has {MAX_OPEN_INVOICES_PER_DAY} open invoices")
        return _new_invoice(product=product, user_id=user_id, subscription_period=subscription_period,
                            update_id=update_id), False


def _new_invoice(
    *, product: Product, user_id: int | None, subscription_period: int | None, update_id: int | None = None
) -> Invoice:
    return Invoice.objects.create(
        bot_id=product.bot_id,
        update_id=update_id,
        user_id=user_id,
        product=product,
        price_stars=product.price_stars,
        subscription_period=subscription_period,
        created_at=timezone.now(),
    )


def _expire(invoice: Invoice) -> None:
    # Never shown to anyone, so it can never be paid; kept for the record.
    Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.OPEN).update(status=InvoiceStatus.EXPIRED)
    invoice.status = InvoiceStatus.EXPIRED
