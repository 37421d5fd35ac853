"""The support desk's search box: which customer a user id, @username, name, charge id (whole or a
prefix of `MIN_CHARGE_PREFIX`+ characters), event id or invoice payload points to.

Ids are looked up exactly through their indexes first; only a term that matches no id is tried as a
charge id prefix (a scan of the audit trail, capped) and as a name (a scan of the customers table).
"""

from dataclasses import dataclass, field

from django.db.models import Q

from telegram_payments.models import Customer, Invoice, PreCheckoutAnswer, StripeEvent
from telegram_payments.telegram_api.limits import user_id_from

MIN_CHARGE_PREFIX = 8
MAX_RESULTS = 20
MAX_TERM = 255


@dataclass
class Match:
    user_id: int
    reasons: list[str] = field(default_factory=list)
    customer: Customer | None = None


def find_customers(term: str) -> list[Match]:
    """The customers `term` points to, each with what matched (at most `MAX_RESULTS`)."""
    term = (term or "").strip()[:MAX_TERM]
    if not term:
        return []
    matches: dict[int, Match] = {}

    def add(value, reason: str) -> None:
        user_id = user_id_from(value)
        if user_id is None:
            return  # an event whose user id is not a Telegram id: no customer page
        matches.setdefault(user_id, Match(user_id)).reasons.append(reason)

    if term.startswith("@"):
        username = term[1:]
        by_username = Customer.objects.filter(username__iexact=username)
        for user_id in by_username.values_list("user_id", flat=True)[:MAX_RESULTS]:
            add(user_id, f"username @{username}")
        return _with_customers(matches)

    if term.isdigit() and (user_id := user_id_from(term)) and _is_known_user(user_id):
        add(user_id, "user id")
    for event in StripeEvent.objects.filter(Q(event_id=term) | Q(telegram_payment_charge_id=term)).only(
            "customer_id", "event_id")[:MAX_RESULTS]:
        add(event.customer_id, "event id" if event.event_id == term else "charge id")
    invoice = Invoice.objects.filter(payload=term).only("pk", "user_id").first()
    if invoice is not None:
        if invoice.user_id is not None:
            add(invoice.user_id, "invoice payload")
        payers = PreCheckoutAnswer.objects.filter(invoice=invoice, ok=True)
        for user_id in payers.values_list("user_id", flat=True)[:MAX_RESULTS]:
            add(user_id, "invoice payload (paid by)")
    if matches:
        return _with_customers(matches)

    if len(term) >= MIN_CHARGE_PREFIX:
        for event in StripeEvent.objects.filter(telegram_payment_charge_id__startswith=term).only(
                "customer_id", "telegram_payment_charge_id")[:MAX_RESULTS]:
            add(event.customer_id, f"charge id {event.telegram_payment_charge_id}")
    if not term.isdigit():
        names = Q()
        for word in term.split()[:4]:
            names &= Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(username__icontains=word)
        for user_id in Customer.objects.filter(names).order_by("-last_seen_at").values_list(
                "user_id", flat=True)[:MAX_RESULTS]:
            add(user_id, "name")
    return _with_customers(matches)


def _is_known_user(user_id: int) -> bool:
    """Whether anything is recorded about `user_id` (each an indexed lookup, stopping at the first)."""
    return (
        Customer.objects.filter(user_id=user_id).exists()
        or StripeEvent.objects.filter(customer_id=str(user_id)).exists()
        or Invoice.objects.filter(user_id=user_id).exists()
        or PreCheckoutAnswer.objects.filter(user_id=user_id).exists()
    )


def _with_customers(matches: dict[int, Match]) -> list[Match]:
    found = list(matches.values())[:MAX_RESULTS]
    # A user may be a customer of several bots: the name they were last seen with.
    customers = {c.user_id: c for c in Customer.objects.filter(user_id__in=[m.user_id for m in found])
                 .order_by("last_seen_at")}
    for match in found:
        match.customer = customers.get(match.user_id)
    return found
