"""Signals of the entitlements app, sent once the transaction that made the change has committed.

Every receiver gets `sender` (the `Entitlement` class) and these keyword arguments:

* `entitlement_granted`: `entitlement`, `user_id`, `entitlement_type`, `starts_at`, `expires_at`
  (None: for life), `event_id` (the audit event that granted it) — the user had no running grant of
  the type;
* `entitlement_extended`: the same — a grant with an end added to a running one of the same type
  (it starts when that one ends, or moves a subscription's end); a grant for life is always
  `entitlement_granted`;
* `entitlement_revoked`: `entitlement`, `user_id`, `entitlement_type`, `reason`.

`telegram_payments.signals` re-exports them beside the payment signals.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

entitlement_granted = Signal()
entitlement_extended = Signal()
entitlement_revoked = Signal()


def send_on_commit(signal: Signal, *, sender, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside one); never if it rolls back.

    A receiver that raises is logged with its traceback and the others still run: what was committed
    stays committed, and the caller (a webhook, a staff action) never sees the error.
    """
    if not signal.has_listeners(sender):
        return

    def send():
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("signal receiver %s raised", getattr(receiver, "__qualname__", receiver),
                             exc_info=(type(result), result, result.__traceback__))

    transaction.on_commit(send, robust=True)
