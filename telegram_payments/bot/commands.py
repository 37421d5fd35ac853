"""The chat commands (`/buy`, `/buy <type>`, `/start buy_<type>`, `/status`, `/paysupport`, `/terms`)
and the `buy:<type>` buttons of `/buy`: replies go in the response body or, for invoices, as calls."""

import logging

from telegram import Message

from entitlements import wording
from entitlements.selectors import current_access
from telegram_payments.bot.results import Reply, UpdateResult, failed, ignored
from telegram_payments.conf import stars_settings
from telegram_payments.models import Product
from telegram_payments.payments.events import TRANSIENT_ERRORS, Outcome
from telegram_payments.payments.invoices import TooManyOpenInvoices, create_invoice_link, send_invoice
from telegram_payments.reads.selectors import bot_scopes
from telegram_payments.telegram_api.client import BotApiError
from telegram_payments.telegram_api.replies import send, text

logger = logging.getLogger(__name__)

BUY_CALLBACK_PREFIX = "buy:"
MAX_CALLBACK_DATA_BYTES = 64

HELP_TEXT = (
    "/buy: what is on sale\n"
    "/status: what you have and until when\n"
    "/paysupport: help with a payment\n"
    "/terms: terms of sale"
)
INVOICE_FAILED_TEXT = "Sorry, we could not create your invoice just now. Please try again in a minute."
INVOICE_ABOVE_TEXT = "Your invoice for {title} is above: tap Pay there. It stays valid; no need to ask again."
TOO_MANY_INVOICES_TEXT = "You have several unpaid invoices already. Pay one of them, or try again tomorrow."


def guarded(handler, item, *, bot, update_id: int, kind: str) -> UpdateResult:
    """Run a chat interaction with `bot`; anything but a database outage is logged and answered 200, since
    Telegram would otherwise redeliver it and hold back the user's later updates."""
    try:
        return handler(item, bot=bot, update_id=update_id)
    except TRANSIENT_ERRORS:
        raise
    except Exception:
        logger.exception("%s of update %s failed", kind, update_id)
        return failed(update_id, kind)


def command(message: Message, *, bot, update_id: int) -> UpdateResult:
    """A chat command sent to `bot`: answered from its catalog, its customers' access."""
    name, _, argument = message.text.strip().partition(" ")
    name = name.split("@", 1)[0].lower()
    argument = argument.strip()
    user_id = message.from_user.id if message.from_user else message.chat.id
    chat_id = message.chat.id

    def answered(reply: dict | None, status: Outcome | Reply = Reply.ANSWERED, **extra) -> UpdateResult:
        body = reply or {"ok": True, "status": status.value, **extra}
        return UpdateResult(status, "command", update_id, body)

    if name == "/buy" and argument:
        status, reply, payload = _offer(argument, bot=bot, user_id=user_id, chat_id=chat_id, update_id=update_id)
        return answered(reply, status, invoice_payload=payload)
    if name == "/buy":
        return answered(_catalog_message(chat_id, bot=bot))
    if name == "/start" and argument.startswith("buy_"):
        status, reply, payload = _offer(argument[len("buy_"):], bot=bot, user_id=user_id, chat_id=chat_id,
                                        update_id=update_id)
        return answered(reply, status, invoice_payload=payload)
    if name in ("/start", "/help"):
        return answered(text(chat_id, HELP_TEXT))
    if name == "/status":
        return answered(text(chat_id, status_text(user_id, bot=bot)))
    if name == "/paysupport":
        return answered(text(chat_id, stars_settings.PAYSUPPORT_TEXT))
    if name == "/terms":
        return answered(text(chat_id, stars_settings.TERMS_TEXT))
    return ignored(update_id, "command")


def buy_button(query, *, bot, update_id: int) -> UpdateResult:
    user_id = query.from_user.id
    chat_id = query.message.chat.id if query.message is not None else user_id
    status, reply, _ = _offer(query.data[len(BUY_CALLBACK_PREFIX):], bot=bot, user_id=user_id, chat_id=chat_id,
                              update_id=update_id)
    if reply is not None:  # the response body answers the button, so the reply goes as a call
        try:
            send(reply, bot=bot)
        except BotApiError as exc:
            logger.warning("reply to button of update %s failed: %s", update_id, exc)
            status = Outcome.FAILED
    body = {"method": "answerCallbackQuery", "callback_query_id": query.id}
    return UpdateResult(status, "callback_query", update_id, body)


def _offer(
    entitlement_type: str, *, bot, user_id: int, chat_id: int, update_id: int
) -> tuple[Outcome | Reply, dict | None, str]:
    """Offer one product: an invoice message (sent by a call), or for a subscription a message with
    an invoice link button. Returns (status, reply to send or None, invoice payload or "").

    Asked again shortly after, the open invoice is offered again (a redelivered update: nothing at all).
    """
    product = Product.objects.filter(bot=bot, entitlement_type=entitlement_type, is_active=True).first()
    if product is None:
        words = f"Nothing called {entitlement_type!r} is on sale. Send /buy to see what is."
        return Reply.ANSWERED, text(chat_id, words), ""
    try:
        if not product.is_subscription:
            issued = send_invoice(product=product, user_id=user_id, chat_id=chat_id, reuse_recent=True,
                                  update_id=update_id)
            again = issued.reused and issued.invoice.update_id != update_id
            reply = text(chat_id, INVOICE_ABOVE_TEXT.format(title=product.title)) if again else None
            return Reply.ANSWERED, reply, issued.invoice.payload
        issued = create_invoice_link(product=product, user_id=user_id, reuse_recent=True, update_id=update_id)
    except TooManyOpenInvoices:
        return Reply.ANSWERED, text(chat_id, TOO_MANY_INVOICES_TEXT), ""
    except BotApiError as exc:
        logger.warning("invoice for %s to %s failed: %s", product.entitlement_type, user_id, exc)
        return Outcome.FAILED, text(chat_id, INVOICE_FAILED_TEXT), ""
    if issued.reused and issued.invoice.update_id == update_id:
        return Reply.ANSWERED, None, issued.invoice.payload  # a redelivery: answered before
    words = f"{product.title}: {product.description}\n{product.price_stars} ⭐ every 30 days, cancel any time."
    button = {"text": f"Subscribe for {product.price_stars} ⭐/month", "url": issued.link}
    return Reply.ANSWERED, text(chat_id, words, buttons=[[button]]), issued.invoice.payload


def _catalog_message(chat_id: int, *, bot) -> dict:
    products = list(Product.objects.filter(bot=bot, is_active=True).order_by("price_stars", "pk"))
    if not products:
        return text(chat_id, "Nothing is on sale right now.")
    lines = ["What is on sale:"]
    buttons = []
    for product in products:
        lines.append(f"• {product.title}: {product.price_stars} ⭐ {_period(product)}. {product.description}")
        data = f"{BUY_CALLBACK_PREFIX}{product.entitlement_type}"
        if len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            buttons.append([{"text": f"{product.title}: {product.price_stars} ⭐", "callback_data": data}])
    return text(chat_id, "\n".join(lines), buttons=buttons)


def _period(product: Product) -> str:
    if product.is_subscription:
        return "every 30 days"
    if product.duration_days:
        return f"for {product.duration_days} days"
    return "for life"


def status_text(user_id: int, *, bot) -> str:
    """What `/status` says to a customer of `bot`: their purchases (the bot's, and those it shares) and until when."""
    scopes = bot_scopes(bot)
    active = [item for scope in scopes for item in current_access(user_id, scope=scope)]
    if not active:
        return "You have no active purchases. Send /buy to see what is on sale."
    titles = dict(
        Product.objects.filter(bot=bot, entitlement_type__in=[a.entitlement_type for a in active]).values_list(
            "entitlement_type", "title"
        )
    )
    lines = ["Your purchases:"]
    for item in active:
        lines.append(f"• {titles.get(item.entitlement_type, item.entitlement_type)}: {wording.until(item.expires_at)}")
    return "\n".join(lines)
