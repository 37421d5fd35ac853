"""Answers to identical redeliveries, remembered by each worker process.

Telegram and relays deliver again when an answer is late or lost, and the copy is byte for byte the
body that came before. Once the database has recorded a body's event as *processed*, the answer to
that exact body can no longer change: a processed event stays processed (a refund is an event of
its own, and failed or pending events are never remembered, since a replay changes them). So each
worker keeps the answers for the last `WEBHOOK_REDELIVERY_MEMORY` such bodies and answers a copy
without a query: a redelivery storm then costs about what a trivial endpoint costs.

This is only a shortcut to the same answer. What happens once per event is still decided by the
database (the unique event id): a body not remembered, or different by one byte, goes the usual way,
and so does a copy sent with another Content-Type (which the usual way may answer 415).
"""

import hashlib
import threading
from collections import OrderedDict

from telegram_payments.conf import stars_settings
from telegram_payments.models import EventStatus, StripeEvent

# What an answer, the metrics and the log line read of an event: kept as plain values, not model
# instances, which the garbage collector would walk through on every full collection (tail latency).
ANSWER_FIELDS = ("id", "bot_id", "event_id", "event_type", "status", "customer_id", "telegram_payment_charge_id",
                 "entitlement_type", "amount_cents", "currency", "source", "update_id")

_lock = threading.Lock()
# (path, Content-Type, digest of the body) -> the event's ANSWER_FIELDS, as a tuple.
_answers: "OrderedDict[tuple[str, str, bytes], tuple]" = OrderedDict()


def _key(request) -> tuple[str, str, bytes]:
    """The same bytes under the same Content-Type: the same bytes as multipart, or in another charset,
    are another request (a 415 or a 400), answered the usual way."""
    key = getattr(request, "_redelivery_key", None)  # recall and remember hash the body once
    if key is None:
        digest = hashlib.blake2b(request.body, digest_size=16).digest()
        key = request._redelivery_key = (request.path, request.content_type, digest)
    return key


def recall(request):
    """The stored event this exact body was answered with before, or None."""
    if not stars_settings.WEBHOOK_REDELIVERY_MEMORY:
        return None
    key = _key(request)
    with _lock:
        values = _answers.get(key)
        if values is not None:
            _answers.move_to_end(key)
    return None if values is None else StripeEvent(**dict(zip(ANSWER_FIELDS, values, strict=True)))


def remember(request, event) -> None:
    """Remember `event` as the answer to this body, if it is recorded as processed."""
    size = stars_settings.WEBHOOK_REDELIVERY_MEMORY
    if not size or event is None or event.pk is None or event.status != EventStatus.PROCESSED:
        return
    key, values = _key(request), tuple(getattr(event, name) for name in ANSWER_FIELDS)  # not the payload
    with _lock:
        _answers[key] = values
        _answers.move_to_end(key)
        while len(_answers) > size:
            _answers.popitem(last=False)


def remembered() -> int:
    """How many answers this process holds."""
    return len(_answers)


def forget_all() -> None:
    with _lock:
        _answers.clear()
