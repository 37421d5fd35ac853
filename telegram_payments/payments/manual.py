"""Support grants and revokes, done by an operator and recorded in the audit trail as manual.

Each action writes one `StripeEvent` (`manual:grant:<uuid>` / `manual:revoke:<uuid>`, source
`manual`) in the same transaction as its effect, so there is never an effect without its record.
A grant is told to the buyer once, after it committed (`payments.notices`).
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from entitlements import wording
from entitlements.models import Entitlement
from entitlements.services import grant_entitlement, revoke_entitlement
from telegram_payments.models import EventSource, EventStatus, Product, StripeEvent
from telegram_payments.payments.customers import note_event_user
from telegram_payments.payments.failures import ResolutionRefused, fulfil_failure, resolution_problem
from telegram_payments.payments.notices import tell_delivered
from telegram_payments.registry import bots

EVENT_MANUAL_GRANT = "manual.grant"
EVENT_MANUAL_REVOKE = "manual.revoke"


class ManualActionRefused(Exception):
    """The action cannot be done as asked (unknown type, nothing to revoke, no reason)."""


@dataclass(frozen=True)
class ManualOutcome:
    event: StripeEvent
    entitlements: list[Entitlement]


def grant_manually(
    *, user_id: int, entitlement_type: str, reason: str, days: int | None = None, operator=None,
    operator_name: str = "", fulfils: StripeEvent | None = None, bot=None,
) -> ManualOutcome:
    """Grant `entitlement_type` to `user_id` for `days` (default: the product's duration; a product with
    no duration is for life and takes no days), and tell the buyer (once, after the commit; a Bot API
    failure is logged, never raised). `fulfils`: the user's open failed payment this grant delivers,
    which then ends as fulfilled, linked to this grant (`failures.fulfil_failure`), in the same transaction.

    The type must be in the catalog of `bot` (default: the default bot; a typo must not create a grant
    nobody checks for), and the grant is in that product's scope. `fulfils` must be a payment to that bot.
    """
    reason = _required_reason(reason)
    bot = bot or bots.default()
    product = Product.objects.filter(bot_id=bot.pk, entitlement_type=entitlement_type).first()
    if product is None:
        raise ManualActionRefused(
            f"unknown entitlement type {entitlement_type!r} (not in the catalog of {bot.slug})")
    if fulfils is not None and fulfils.bot_id != bot.pk:
        raise ManualActionRefused(f"{fulfils.event_id} is a payment to another bot")
    days = grant_days(product, days)
    if fulfils is not None and (problem := resolution_problem(fulfils)) is not None:
        raise ManualActionRefused(problem)
    event = _manual_event("grant", bot, user_id, entitlement_type, reason, operator, operator_name,
                          {"days": days, **({"fulfils": fulfils.event_id} if fulfils is not None else {})})
    with transaction.atomic():
        event.save(force_insert=True)
        note_event_user(event)
        grant = grant_entitlement(
            user_id=user_id,
            entitlement_type=entitlement_type,
            event_id=event.event_id,
            duration=timedelta(days=days) if days else None,
            scope=product.entitlement_scope,
        )
        event.note = f"{wording.granted(grant)} (manual: {reason})."
        event.save(update_fields=["note"])
        if fulfils is not None:
            try:
                fulfil_failure(payment=fulfils, grant_event=event, reason=reason, operator=operator)
            except ResolutionRefused as exc:  # ended meanwhile: the grant is rolled back with it
                raise ManualActionRefused(str(exc)) from None
        tell_delivered(event=event, product=product)  # sent once this transaction committed
    return ManualOutcome(event, [grant])


def grant_days(product: Product, days: int | None) -> int | None:
    """The days a staff grant of `product` lasts: `days`, else the product's duration; None (for life)
    for a product without a duration, which takes no days (a lifetime grant "until" a date would
    contradict itself). Raises ManualActionRefused for days it cannot take."""
    if days is None:
        return product.duration_days
    if not product.duration_days:
        raise ManualActionRefused(f"{product.title} ({product.entitlement_type}) is for life: it takes no days")
    if days < 1:
        raise ManualActionRefused("days must be 1 or more")
    return days


def revoke_manually(
    *, user_id: int, entitlement_type: str, reason: str, operator=None, operator_name: str = "",
    only: Entitlement | None = None, bot=None,
) -> ManualOutcome:
    """Revoke every grant of `entitlement_type` that `user_id` holds or has waiting (stacked) with `bot`
    (default: the default bot; in the scope of that bot's product of this type), or only the grant `only`
    (the entitlement's own admin page) if it is still one of them."""
    reason = _required_reason(reason)
    bot = bot or bots.default()
    now = timezone.now()
    with transaction.atomic():
        grants = revocable_grants(user_id=user_id, entitlement_type=entitlement_type, now=now, bot=bot)
        if only is not None:
            grants = grants.filter(pk=only.pk)
        # Latest first, so no grant is moved up only to be revoked next.
        grants = list(grants.order_by("-starts_at"))
        if not grants:
            raise ManualActionRefused(f"user {user_id} holds no {entitlement_type!r} to revoke")
        event = _manual_event(
            "revoke", bot, user_id, entitlement_type, reason, operator, operator_name,
            {"revoked": [g.event_id for g in grants]},
        )
        event.save(force_insert=True)
        revoked = [revoke_entitlement(entitlement=g, reason=f"manual: {reason}", now=now) for g in grants]
        event.note = f"Revoked {len(revoked)} {entitlement_type} grant(s) of {user_id} (manual: {reason})."
        event.save(update_fields=["note"])
    return ManualOutcome(event, revoked)


def revocable_grants(*, user_id: int, entitlement_type: str, now=None, bot=None):
    """The grants a revoke takes away: not revoked, not expired (active or stacked to come), in the scope
    where `bot` (default: the default bot) grants this type (its product's, else the bot's own)."""
    return (
        Entitlement.objects.not_revoked()
        .filter(user_id=user_id, entitlement_type=entitlement_type, scope=grant_scope(bot or bots.default(),
                                                                                         entitlement_type))
        .exclude(expires_at__lte=now or timezone.now())
    )


def grant_scope(bot, entitlement_type: str) -> str:
    """The scope in which `bot` grants `entitlement_type`: its product's (shared access), else the bot's."""
    product = Product.objects.filter(bot_id=bot.pk, entitlement_type=entitlement_type).first()
    return product.entitlement_scope if product is not None else bot.entitlement_scope


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ManualActionRefused("a reason is required")
    return reason


def _manual_event(action, bot, user_id, entitlement_type, reason, operator, operator_name, extra) -> StripeEvent:
    now = timezone.now()
    return StripeEvent(
        bot_id=bot.pk,
        event_id=f"manual:{action}:{uuid.uuid4()}",
        event_type=EVENT_MANUAL_GRANT if action == "grant" else EVENT_MANUAL_REVOKE,
        customer_id=str(user_id),
        amount_cents=None,
        source=EventSource.MANUAL,
        telegram_payment_charge_id="",
        entitlement_type=entitlement_type,
        initiated_by=operator,
        payload={"action": action, "reason": reason, "operator": operator_name, **extra},
        status=EventStatus.PROCESSED,
        attempts=1,
        received_at=now,
        processed_at=now,
    )
