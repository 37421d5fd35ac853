"""Delivery of grants and revokes to another service (ENTITLEMENTS_SERVICE_URL), through an outbox.

* `enqueue_change` writes an `OutboxMessage` in the caller's transaction (grant or revoke): the
  message exists if and only if the change was committed.
* `deliver_one` claims the oldest due message whose user has no earlier undelivered message,
  with `SELECT ... FOR UPDATE SKIP LOCKED`, POSTs it, and records the attempt, all while holding
  the row lock: any number of workers on any number of machines never send one message at the
  same time, and a user's messages go out in order. A worker that dies mid-POST releases the lock
  with its connection; the message is sent again later (the receiver dedupes on `message_id`).
* A failure (no answer, or not a 2xx) is retried with exponential backoff; while it waits, the
  user's later messages wait behind it.

The body is the message's JSON (sorted keys, no spaces), signed with
`X-Signature: sha256=<hex HMAC-SHA256 of the body under ENTITLEMENTS_SERVICE_SECRET>`.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from entitlements.batching import in_id_batches
from entitlements.conf import entitlements_settings
from entitlements.locks import lock_for_transaction
from entitlements.metrics import OUTBOX_DELIVERIES
from entitlements.models import DeliveryAttempt, Entitlement, OutboxMessage
from entitlements.selectors import current_access

logger = logging.getLogger(__name__)

GRANTED = "entitlement.granted"
REVOKED = "entitlement.revoked"
SIGNATURE_HEADER = "X-Signature"
TIMEOUT_SECONDS = 10.0
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 3600.0
MAX_ERROR_LENGTH = 1000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def enabled() -> bool:
    """Whether grants and revokes are delivered anywhere (ENTITLEMENTS_SERVICE_URL is set)."""
    return bool(entitlements_settings.ENTITLEMENTS_SERVICE_URL)


def enqueue_change(*, entitlement: Entitlement, kind: str, now: datetime) -> OutboxMessage | None:
    """Write the outbox message for a grant or revoke, if ENTITLEMENTS_SERVICE_URL is set.

    Call inside the transaction that made the change. `access` is the user's access to that
    type after the change, so the receiver can simply store it (stacked grants included).
    """
    if not enabled():
        return None
    # Per-user order: ids are taken in commit order for one user (grants of two types for one user
    # could otherwise commit out of id order and be delivered out of order).
    lock_for_transaction(f"outbox:{entitlement.user_id}")
    access = current_access(entitlement.user_id, entitlement_type=entitlement.entitlement_type,
                            scope=entitlement.scope, at=now)
    message_id = uuid.uuid4()
    payload = {
        "message_id": str(message_id),
        "type": kind,
        "occurred_at": _iso(now),
        "user_id": entitlement.user_id,
        "entitlement_type": entitlement.entitlement_type,
        "scope": entitlement.scope,
        "grant": {
            "event_id": entitlement.event_id,
            "starts_at": _iso(entitlement.starts_at),
            "expires_at": _iso(entitlement.expires_at),
            "revoked_at": _iso(entitlement.revoked_at),
            "revoke_reason": entitlement.revoke_reason,
        },
        "access": {"active": bool(access), "expires_at": _iso(access[0].expires_at) if access else None},
    }
    return OutboxMessage.objects.create(
        message_id=message_id, user_id=entitlement.user_id, scope=entitlement.scope, kind=kind, payload=payload,
        created_at=now, next_attempt_at=now,
    )


def message_body(message: OutboxMessage) -> bytes:
    return json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt_count: int, *, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_MAX_SECONDS) -> timedelta:
    """Wait before the next try after `attempt_count` failures: base, 2x base, 4x base... up to cap."""
    doublings = min(max(attempt_count - 1, 0), 64)  # past 64 the cap has long won; 2**1100 is no float
    return timedelta(seconds=min(cap, base * 2**doublings))


@dataclass(frozen=True)
class DeliveryResult:
    message_id: uuid.UUID
    delivered: bool
    status_code: int | None
    error: str


def _post(url: str, body: bytes, signature: str, message: OutboxMessage) -> tuple[int | None, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature,
        "X-Outbox-Message-Id": str(message.message_id),
        "User-Agent": "telegram-stars-payments-outbox/1",
    })
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{type(exc).__name__}: {reason}"[:MAX_ERROR_LENGTH]


def deliver_one(*, url: str | None = None, secret: str | None = None, due_before: datetime | None = None,
                backoff_base: float = BACKOFF_BASE_SECONDS, backoff_max: float = BACKOFF_MAX_SECONDS,
                ) -> DeliveryResult | None:
    """Claim, POST and record one due message; None when nothing is due (or all due are claimed)."""
    url = url or entitlements_settings.ENTITLEMENTS_SERVICE_URL
    secret = entitlements_settings.ENTITLEMENTS_SERVICE_SECRET if secret is None else secret
    with transaction.atomic():
        now = timezone.now()
        earlier_undelivered = OutboxMessage.objects.filter(
            user_id=OuterRef("user_id"), delivered_at__isnull=True, id__lt=OuterRef("id")
        )
        message = (
            OutboxMessage.objects.filter(delivered_at__isnull=True, next_attempt_at__lte=due_before or now)
            .filter(~Exists(earlier_undelivered))
            .order_by("id")
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if message is None:
            return None
        body = message_body(message)
        started = time.monotonic()
        status_code, error = _post(url, body, sign(body, secret), message)
        duration_ms = int((time.monotonic() - started) * 1000)
        delivered = status_code is not None and 200 <= status_code < 300
        attempted_at = timezone.now()
        DeliveryAttempt.objects.create(message=message, attempted_at=attempted_at, status_code=status_code,
                                       error=error, duration_ms=duration_ms, delivered=delivered)
        message.attempt_count += 1
        if delivered:
            message.delivered_at = attempted_at
            message.last_error = ""
        else:
            message.last_error = error
            message.next_attempt_at = attempted_at + backoff(message.attempt_count, base=backoff_base,
                                                             cap=backoff_max)
        message.save(update_fields=["attempt_count", "delivered_at", "last_error", "next_attempt_at"])
    OUTBOX_DELIVERIES.labels(result="delivered" if delivered else "failed").inc()
    if not delivered:
        logger.warning("outbox: message %s for user %s not delivered (attempt %s): %s; next try at %s",
                       message.message_id, message.user_id, message.attempt_count, error,
                       _iso(message.next_attempt_at))
    return DeliveryResult(message.message_id, delivered, status_code, error)


def deliver_due(**options) -> tuple[int, int]:
    """Deliver every message due when this call started; returns (delivered, failed)."""
    due_before = options.pop("due_before", None) or timezone.now()
    delivered = failed = 0
    while (result := deliver_one(due_before=due_before, **options)) is not None:
        if result.delivered:
            delivered += 1
        else:
            failed += 1
    return delivered, failed


def prune_delivered(*, older_than: timedelta, dry_run: bool = False, batch_size: int = 1000) -> int:
    """Delete messages delivered more than `older_than` ago, with their attempts; returns how many.

    Undelivered messages are never deleted, however old. Batches of `batch_size` messages, taken in
    id order after the last one deleted, one short transaction each, so the worker is never held up
    for long (and sparse ids cost no empty batches).
    """
    due = OutboxMessage.objects.filter(delivered_at__lt=timezone.now() - older_than)
    if dry_run:
        return due.count()
    return in_id_batches(due, lambda batch: batch.delete()[1].get(OutboxMessage._meta.label, 0),
                         batch_size=batch_size)
