"""What a host project listens to: signals sent once the change has committed (never for a rolled-back
one), with the keyword arguments below. A receiver that raises is logged and changes nothing that
was recorded; other receivers still run. (Other services: the signed outbox, `entitlements.outbox`.)

* `payment_recorded` (sender: `StripeEvent`): a payment was recorded now, by any route (webhook,
  relay, reconciliation) or a replay completed it. `event` (the `StripeEvent`), `status`
  ("processed": what was bought is granted; "failed": recorded with `event.error`, for staff),
  `user_id`, `entitlement_type`, `amount` (Stars), `currency`, `charge_id`, `source`, `bot` (the `Bot`
  paid: the default bot unless the deployment serves several).
* `refund_recorded` (sender: `StripeEvent`): a refund was recorded now. The same arguments; a
  processed refund has revoked the grant of its charge.
* `subscription_state_changed` (sender: `Subscription`): `subscription`, `user_id`,
  `invoice_payload`, `state` (a `SubscriptionState` value: renewing, cancelled, renewal_failed,
  stopped), `source`, `bot`.
* `entitlement_granted`, `entitlement_extended`, `entitlement_revoked` (sender: `Entitlement`):
  see `entitlements.signals`; their `scope` says whose access it is (`Entitlement.scope`: "" for the
  default bot, `bot:<telegram id>` for another, `shared:<name>` for a product several bots share).

Duplicates (a copy of an event already recorded) send nothing.

    from django.dispatch import receiver
    from telegram_payments.signals import entitlement_granted

    @receiver(entitlement_granted)
    def unlock(sender, *, user_id, entitlement_type, expires_at, **kwargs):
        ...
"""

from django.dispatch import Signal

from entitlements.signals import entitlement_extended, entitlement_granted, entitlement_revoked, send_on_commit

payment_recorded = Signal()
refund_recorded = Signal()
subscription_state_changed = Signal()

__all__ = [
    "entitlement_extended", "entitlement_granted", "entitlement_revoked", "payment_recorded", "refund_recorded",
    "send_on_commit", "subscription_state_changed",
]
