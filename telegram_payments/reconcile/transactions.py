"""Telegram's list of Star transactions: fetched page by page, read into typed records, classified.

`getStarTransactions` is read as raw JSON and each transaction is checked here, so one that cannot
be read is reported with its reason instead of failing the run, and a partner or transaction type
newer than this code is listed as unknown instead of being dropped.

Direction: a transaction with a `source` brought Stars in, one with a `receiver` took Stars out.
Amounts are kept in nanostars (1/1,000,000,000 of a Star) so `nanostar_amount` is never rounded away.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from telegram.warnings import PTBUserWarning

from telegram_payments.telegram_api.client import BotApiError, call_bot

MAX_PAGE_SIZE = 100  # the Bot API's limit for getStarTransactions
NANOSTARS_PER_STAR = 1_000_000_000
IN, OUT = "in", "out"

# What a transaction is: by its partner's type and, with a user, its transaction_type.
SALE = "sale"  # a user paid one of our invoices
REFUND = "refund"  # Stars back to a user for an invoice payment
WITHDRAWAL = "withdrawal"  # to Fragment; in: a failed withdrawal coming back
TELEGRAM_ADS = "Telegram Ads"
PAID_BROADCAST = "paid broadcasts"  # Bot API calls paid in Stars (`telegram_api`)
AFFILIATE_COMMISSION = "affiliate commission"  # earned through another bot's affiliate program
PAID_MEDIA = "paid media"
GIFT = "gift"
PREMIUM = "Telegram Premium"
BUSINESS_TRANSFER = "business account transfer"
CHAT = "chat"
OTHER = "other"
# Stars taken with no charge of ours behind them: an outflow to a user for a charge nobody recorded
# (e.g. taken back after an app-store chargeback) or to an unknown partner (`other`).
DEBIT_WITHOUT_CHARGE = "debit without a charge of ours"
UNKNOWN = "unknown"  # a partner type or user transaction_type this code does not know

USER_TRANSACTION_KINDS = {
    "paid_media_payment": PAID_MEDIA,
    "gift_purchase": GIFT,
    "premium_purchase": PREMIUM,
    "business_account_transfer": BUSINESS_TRANSFER,
}
INVOICE_TRANSACTION_TYPES = {None, "invoice_payment"}  # older servers send no transaction_type
PARTNER_KINDS = {
    "fragment": WITHDRAWAL,
    "telegram_ads": TELEGRAM_ADS,
    "telegram_api": PAID_BROADCAST,
    "affiliate_program": AFFILIATE_COMMISSION,
    "chat": CHAT,
    "other": OTHER,
}
SHOWN_CHARS = 60  # longest text from Telegram repeated in a report


@dataclass(frozen=True)
class StarTransaction:
    """One transaction of Telegram's list, read and classified."""

    id: str
    kind: str
    direction: str  # IN or OUT
    nanostars: int  # never negative; `direction` gives the sign
    date: datetime
    partner_type: str
    transaction_type: str = ""
    user_id: int | None = None
    invoice_payload: str = ""
    subscription_period: timedelta | None = None
    affiliate_nanostars: int = 0  # the affiliate's share of this sale (negative on refunds)
    request_count: int = 0  # paid broadcasts: Bot API requests paid for
    detail: str = ""  # withdrawal state, request count, commission, the unknown type...
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def signed_nanostars(self) -> int:
        return self.nanostars if self.direction == IN else -self.nanostars

    @property
    def charged_stars(self) -> int:
        """The whole Stars the buyer paid: Telegram's amount plus any affiliate's share, rounded."""
        return (self.nanostars + abs(self.affiliate_nanostars) + NANOSTARS_PER_STAR // 2) // NANOSTARS_PER_STAR

    def matches_recorded_amount(self, stars: int) -> bool:
        """Whether `stars` recorded here is this charge: its amount, or its amount before the affiliate's share."""
        recorded = stars * NANOSTARS_PER_STAR
        return recorded == self.nanostars or (
            self.affiliate_nanostars != 0
            and abs(recorded - self.nanostars - abs(self.affiliate_nanostars)) < NANOSTARS_PER_STAR
        )


@dataclass(frozen=True)
class Unreadable:
    """A transaction that could not be read: reported, never guessed at."""

    position: int  # 1-based place in Telegram's list
    transaction_id: str
    reason: str
    date: datetime | None = None  # when it still says one


class Malformed(ValueError):
    pass


def stars_text(nanostars: int) -> str:
    """Stars as a person reads them: `250`, `-35`, `0.5` (a fraction only when there is one)."""
    sign = "-" if nanostars < 0 else ""
    whole, fraction = divmod(abs(nanostars), NANOSTARS_PER_STAR)
    if not fraction:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:09d}".rstrip("0")


def fetch_star_transactions(*, bot, page_size: int = MAX_PAGE_SIZE, on_page: Callable[[int], None] | None = None
                            ) -> list:
    """Every Star transaction of `bot` as raw JSON, oldest first, paging by offset/limit until a short page."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1-{MAX_PAGE_SIZE}")
    transactions: list = []
    while True:
        params = {"offset": len(transactions), "limit": page_size}
        answer = call_bot("getStarTransactions",
                          lambda api, params=params: raw_call(api, "getStarTransactions", params), bot=bot)
        page = answer.get("transactions") if isinstance(answer, dict) else None
        if not isinstance(page, list):
            raise BotApiError("getStarTransactions", "the answer holds no list of transactions")
        transactions.extend(page)
        if on_page:
            on_page(len(transactions))
        if len(page) < page_size:
            return transactions


def fetch_star_balance(*, bot, timeout: float | None = None) -> int:
    """`bot`'s balance as Telegram reports it (`getMyStarBalance`, a StarAmount), in nanostars."""
    answer = call_bot("getMyStarBalance", lambda api: raw_call(api, "getMyStarBalance", None), bot=bot,
                      timeout=timeout)
    try:
        if not isinstance(answer, dict):
            raise Malformed("not an object")
        return _int(answer, "amount") * NANOSTARS_PER_STAR + (_int(answer, "nanostar_amount", required=False) or 0)
    except Malformed as exc:
        raise BotApiError("getMyStarBalance", f"unreadable answer: {exc}") from None


async def raw_call(api, method: str, params: dict | None):
    """`method`'s result as Telegram's JSON, not parsed by python-telegram-bot (which would fail
    the whole page on one transaction it cannot read)."""
    with warnings.catch_warnings():  # PTB suggests its typed method; we want the raw answer on purpose
        warnings.filterwarnings("ignore", message="Please use 'Bot.", category=PTBUserWarning)
        return await api.do_api_request(method, api_kwargs=params)


def read_transactions(raw_transactions: list) -> tuple[list[StarTransaction], list[Unreadable]]:
    """Telegram's raw list as classified transactions, and the ones that could not be read."""
    transactions, unreadable = [], []
    for position, raw in enumerate(raw_transactions, start=1):
        try:
            transactions.append(read_transaction(raw))
        except Malformed as exc:
            transaction_id = raw.get("id") if isinstance(raw, dict) else None
            unreadable.append(Unreadable(
                position=position,
                transaction_id=transaction_id[:SHOWN_CHARS] if isinstance(transaction_id, str) else "",
                reason=str(exc),
                date=_date_if_any(raw),
            ))
    return transactions, unreadable


def read_transaction(raw: object) -> StarTransaction:
    """One StarTransaction from its JSON; raises `Malformed` with the reason."""
    if not isinstance(raw, dict):
        raise Malformed("not an object")
    transaction_id = _str(raw, "id")
    if not transaction_id:
        raise Malformed("empty id")
    amount = _int(raw, "amount")
    nano = _int(raw, "nanostar_amount", required=False) or 0
    if amount < 0 or not 0 <= nano < NANOSTARS_PER_STAR:
        raise Malformed("amount out of range")
    date = _date_if_any(raw)
    if date is None:
        raise Malformed("date is missing or out of range")
    source, receiver = raw.get("source"), raw.get("receiver")
    if (source is None) == (receiver is None):
        raise Malformed("needs exactly one of source and receiver")
    partner, direction = (source, IN) if source is not None else (receiver, OUT)
    if not isinstance(partner, dict):
        raise Malformed("source/receiver is not an object")
    partner_type = _str(partner, "type")
    common = {"id": transaction_id, "direction": direction, "nanostars": amount * NANOSTARS_PER_STAR + nano,
              "date": date, "partner_type": partner_type[:SHOWN_CHARS], "raw": raw}
    if partner_type == "user":
        return StarTransaction(**common, **_read_user_partner(partner, direction))
    kind = PARTNER_KINDS.get(partner_type, UNKNOWN)
    if kind == OTHER and direction == OUT:
        kind = DEBIT_WITHOUT_CHARGE
    requests = _int(partner, "request_count") if kind == PAID_BROADCAST else 0
    return StarTransaction(**common, kind=kind, request_count=requests, detail=_partner_detail(partner, partner_type))


def _read_user_partner(partner: dict, direction: str) -> dict:
    user = partner.get("user")
    if not isinstance(user, dict):
        raise Malformed("user partner without a user")
    transaction_type = _str(partner, "transaction_type", required=False)
    if transaction_type in INVOICE_TRANSACTION_TYPES:
        kind, detail = (SALE if direction == IN else REFUND), ""
    else:
        kind, detail = USER_TRANSACTION_KINDS.get(transaction_type, UNKNOWN), ""
    period = _int(partner, "subscription_period", required=False)
    affiliate = partner.get("affiliate")
    affiliate_nanostars = 0
    if affiliate is not None:
        if not isinstance(affiliate, dict):
            raise Malformed("affiliate is not an object")
        affiliate_nanostars = (_int(affiliate, "amount") * NANOSTARS_PER_STAR
                               + (_int(affiliate, "nanostar_amount", required=False) or 0))
        per_mille = _int(affiliate, "commission_per_mille")
        detail = ", ".join(filter(None, [detail, f"affiliate {per_mille}‰"]))
    return {
        "kind": kind,
        "transaction_type": (transaction_type or "")[:SHOWN_CHARS],
        "user_id": _int(user, "id"),
        "invoice_payload": _str(partner, "invoice_payload", required=False) or "",
        "subscription_period": timedelta(seconds=period) if period else None,
        "affiliate_nanostars": affiliate_nanostars,
        "detail": detail,
    }


def _partner_detail(partner: dict, partner_type: str) -> str:
    if partner_type == "fragment":
        state = partner.get("withdrawal_state")
        if state is None:
            return ""
        if not isinstance(state, dict):
            raise Malformed("withdrawal_state is not an object")
        return _str(state, "type")[:SHOWN_CHARS]
    if partner_type == "telegram_api":
        return f"{_int(partner, 'request_count')} requests"
    if partner_type == "affiliate_program":
        sponsor = partner.get("sponsor_user")
        name = sponsor.get("username") if isinstance(sponsor, dict) else None
        by = f" from @{name[:SHOWN_CHARS]}" if isinstance(name, str) else ""
        return f"{_int(partner, 'commission_per_mille')}‰{by}"
    if partner_type == "chat":
        chat = partner.get("chat")
        if not isinstance(chat, dict):
            raise Malformed("chat partner without a chat")
        return f"chat {_int(chat, 'id')}" + (", gift" if partner.get("gift") is not None else "")
    return ""


def _date_if_any(raw: object) -> datetime | None:
    date = raw.get("date") if isinstance(raw, dict) else None
    if not isinstance(date, int) or isinstance(date, bool):
        return None
    try:
        return datetime.fromtimestamp(date, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _int(obj: dict, name: str, *, required: bool = True) -> int | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{name} is {'missing' if value is None else 'not an integer'}")
    return value


def _str(obj: dict, name: str, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise Malformed(f"{name} is {'missing' if value is None else 'not a string'}")
    return value
