"""Payments and refunds: how an event is recorded once and what it does to a user's entitlements.

* `events`: what an event is called (ids derived from the charge) and how handling it ended;
* `rules`: the money rules, where a payment becomes a grant and a refund takes it back;
* `pipeline`: the intake every route calls (webhooks, replay, reconciliation, staff refunds):
  store the event and apply its effect in one transaction, exactly once;
* `refunds`: a refund through the Bot API (staff, or the policy worker) and the one rule of what may be refunded;
* `autorefunds`: the `AUTO_REFUND_UNFULFILLABLE` worker, refunding payments nobody can fulfil.
"""
