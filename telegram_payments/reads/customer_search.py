"""The support desk's search box: which customer a user id, @username, name, charge id (whole or a
prefix of `MIN_CHARGE_PREFIX`+ characters), event id or invoice payload points to.

Ids are looked up exactly through their indexes first; only a term that matches no id is tried as a
charge id prefix (a scan of the audit trail, capped) and as a name (a scan of the customers table).
"""

from dataclasses import dataclass, field

from django.db.models import Q

from telegram_payments.models import Bot, Customer, Invoice, PreCheckoutAnswer, StripeEvent
from telegram_payments.telegram_api.limits import user_id_from

MIN_CHARGE_PREFIX = 8
MAX_RESULTS = 20
MAX_TERM = 255


@dataclass
class Match:
    user_id: int
    reasons: list[str] = field(default_factory=list)
    customer: Customer | None = None
    bot: Bot | None = None  # a customer is a user of one bot: the page is per (bot, user)


def find_customers(term: str, *, bots) -> list[Match]:
    """The customers of `bots` (the staff member's visible bots) that `term` points to, each (bot, user)
    with what matched (at most `MAX_RESULTS`). No bots: nothing."""
    term = (term or "").strip()[:MAX_TERM]
    bots = list(bots)
    if not term or not bots:
        return []
    by_pk = {bot.pk: bot for bot in bots}
    pks = list(by_pk)
    matches: dict[tuple[int, int], Match] = {}

    def add(bot_id, value, reason: str) -> None:
        user_id = user_id_from(value)
        if user_id is None or bot_id not in by_pk:
            return  # an event whose user id is not a Telegram id: no customer page
        matches.setdefault((bot_id, user_id), Match(user_id, bot=by_pk[bot_id])).reasons.append(reason)

    customers = Customer.objects.filter(bot__in=pks)
    events = StripeEvent.objects.filter(bot__in=pks)
    if term.startswith("@"):
        username = term[1:]
        by_username = customers.filter(username__iexact=username)
        for bot_id, user_id in by_username.values_list("bot_id", "user_id")[:MAX_RESULTS]:
            add(bot_id, user_id, f"username @{username}")
        return _with_customers(matches)

    if term.isdigit() and (user_id := user_id_from(term)):
        for bot_id in _bots_knowing(user_id, pks):
            add(bot_id, user_id, "user id")
    for event in events.filter(Q(event_id=term) | Q(telegram_payment_charge_id=term)).only(
            "bot_id", "customer_id", "event_id")[:MAX_RESULTS]:
        add(event.bot_id, event.customer_id, "event id" if event.event_id == term else "charge id")
    invoice = Invoice.objects.filter(bot__in=pks, payload=term).only("pk", "bot_id", "user_id").first()
    if invoice is not None:
        if invoice.user_id is not None:
            add(invoice.bot_id, invoice.user_id, "invoice payload")
        payers = PreCheckoutAnswer.objects.filter(invoice=invoice, ok=True)
        for user_id in payers.values_list("user_id", flat=True)[:MAX_RESULTS]:
            add(invoice.bot_id, user_id, "invoice payload (paid by)")
    if matches:
        return _with_customers(matches)

    if len(term) >= MIN_CHARGE_PREFIX:
        for event in events.filter(telegram_payment_charge_id__startswith=term).only(
                "bot_id", "customer_id", "telegram_payment_charge_id")[:MAX_RESULTS]:
            add(event.bot_id, event.customer_id, f"charge id {event.telegram_payment_charge_id}")
    if not term.isdigit():
        names = Q()
        for word in term.split()[:4]:
            names &= Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(username__icontains=word)
        for bot_id, user_id in customers.filter(names).order_by("-last_seen_at").values_list(
                "bot_id", "user_id")[:MAX_RESULTS]:
            add(bot_id, user_id, "name")
    return _with_customers(matches)


def bots_knowing(user_id: int, bots) -> list:
    """Those of `bots` that recorded anything about `user_id`, in their order."""
    bots = list(bots)
    known = set(_bots_knowing(user_id, [bot.pk for bot in bots]))
    return [bot for bot in bots if bot.pk in known]


def _bots_knowing(user_id: int, pks: list[int]) -> list[int]:
    """The pks among `pks` of the bots that recorded anything about `user_id` (indexed lookups)."""
    found: set[int] = set()
    for rows in (Customer.objects.filter(user_id=user_id),
                 StripeEvent.objects.filter(customer_id=str(user_id)),
                 Invoice.objects.filter(user_id=user_id),
                 PreCheckoutAnswer.objects.filter(user_id=user_id)):
        rest = [pk for pk in pks if pk not in found]
        if not rest:
            break
        found.update(rows.filter(bot__in=rest).values_list("bot_id", flat=True).distinct())
    return [pk for pk in pks if pk in found]


def _with_customers(matches: dict[tuple[int, int], Match]) -> list[Match]:
    found = list(matches.values())[:MAX_RESULTS]
    wanted = Q(pk__in=[])
    for match in found:
        wanted |= Q(bot_id=match.bot.pk, user_id=match.user_id)
    customers = {(c.bot_id, c.user_id): c for c in Customer.objects.filter(wanted)}
    for match in found:
        match.customer = customers.get((match.bot.pk, match.user_id))
    return found
