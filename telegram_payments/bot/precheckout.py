"""Answers to pre-checkout queries: checked against the invoice we issued, answered in the webhook's
response body (`answerPreCheckoutQuery`), every answer recorded (a redelivered query gets the same)."""

import logging

from django.db import IntegrityError, transaction
from telegram import PreCheckoutQuery

from telegram_payments.bot.results import Reply, UpdateResult
from telegram_payments.metrics import record_pre_checkout_answer
from telegram_payments.models import Invoice, InvoiceStatus, PreCheckoutAnswer
from telegram_payments.payments.events import Outcome
from telegram_payments.telegram_api.limits import is_stars_currency

logger = logging.getLogger(__name__)

DECLINE_MESSAGES = {
    "unknown_invoice": "This invoice is no longer valid. Send /buy to get a new one.",
    "invoice_expired": "This invoice is no longer valid. Send /buy to get a new one.",
    "product_inactive": "Sorry, this product is no longer on sale. Send /buy to see what is.",
    "wrong_currency": "This invoice can only be paid in Telegram Stars.",
    "wrong_amount": "The price of this invoice is out of date. Send /buy to get a new invoice.",
    "wrong_buyer": "This invoice was issued to someone else. Send /buy to get your own.",
    "already_paid": "This invoice has already been paid. Send /status to see your purchases or /buy to buy again.",
}


def recorded_answer(data: dict, update_id: int, *, bot) -> UpdateResult | None:
    """The recorded answer of `bot` to a redelivered pre-checkout query, or None for a new one."""
    query = data.get("pre_checkout_query")
    if isinstance(query, dict) and query.get("id") is not None:
        answer = PreCheckoutAnswer.objects.filter(bot=bot, query_id=str(query["id"])).first()
        if answer is not None:
            return UpdateResult(Outcome.DUPLICATE, "pre_checkout_query", update_id, _body(answer),
                                pre_checkout_answer=answer)
    return None


def decline_reason(*, invoice: Invoice | None, user_id: int, currency: str, total_amount: int) -> str | None:
    """Why a pre-checkout query for `invoice` must be declined (a `DECLINE_MESSAGES` key), or None."""
    if invoice is None:
        return "unknown_invoice"
    if invoice.status == InvoiceStatus.EXPIRED:
        return "invoice_expired"
    if not invoice.product.is_active:
        return "product_inactive"
    if not is_stars_currency(currency):
        return "wrong_currency"
    if total_amount != invoice.price_stars:
        return "wrong_amount"
    if invoice.user_id is not None and invoice.user_id != user_id:
        return "wrong_buyer"
    if invoice.status == InvoiceStatus.PAID and not may_be_paid_again(invoice):
        return "already_paid"
    return None


def may_be_paid_again(invoice: Invoice) -> bool:
    """Whether a paid invoice takes another payment: an invoice link for anyone (no user) does, one
    buyer after another; an invoice issued to one user is paid once."""
    return invoice.user_id is None


def answer_pre_checkout(query: PreCheckoutQuery, *, bot, update_id: int, raw: dict) -> UpdateResult:
    """Answer a pre-checkout query to `bot` against the invoice it issued, and record the answer."""
    invoice = Invoice.objects.select_related("product").filter(payload=query.invoice_payload, bot=bot).first()
    reason = decline_reason(
        invoice=invoice, user_id=query.from_user.id, currency=query.currency, total_amount=query.total_amount
    )
    answer = PreCheckoutAnswer(
        bot=bot,
        query_id=query.id,
        update_id=update_id,
        user_id=query.from_user.id,
        invoice_payload=query.invoice_payload[:255],
        invoice=invoice,
        currency=query.currency[:3],
        total_amount=query.total_amount,
        ok=reason is None,
        reason=reason or "",
        error_message=DECLINE_MESSAGES[reason] if reason else "",
        payload=raw,
    )
    try:
        with transaction.atomic():
            answer.save(force_insert=True)
    except IntegrityError:  # the same query delivered twice at once: answer as the first time
        existing = PreCheckoutAnswer.objects.filter(bot=bot, query_id=query.id).first()
        if existing is None:
            raise
        return UpdateResult(Outcome.DUPLICATE, "pre_checkout_query", update_id, _body(existing),
                            pre_checkout_answer=existing)
    record_pre_checkout_answer(reason or "ok", bot=bot)
    if reason:
        logger.info("pre-checkout %s declined: %s", query.id, reason)
    return UpdateResult(Reply.ANSWERED, "pre_checkout_query", update_id, _body(answer), pre_checkout_answer=answer)


def _body(answer: PreCheckoutAnswer) -> dict:
    body = {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": answer.query_id, "ok": answer.ok}
    if not answer.ok:
        body["error_message"] = answer.error_message
    return body
