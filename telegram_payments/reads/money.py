"""How amounts read in the support pages: "12,500 XTR", "−250 XTR" (no emoji font needed), and an
estimate in USD."""

from decimal import ROUND_HALF_UP, Decimal

from telegram_payments.conf import stars_settings
from telegram_payments.redaction import redact

MINUS = "\u2212"  # a real minus sign: "−250", not a hyphen

NANOSTARS_PER_STAR = 1_000_000_000


def thousands(value) -> str:
    """12500 -> "12,500"; None -> "—"."""
    if value is None:
        return "—"
    return f"{value:,}"


def amount_text(amount, currency: str = "XTR", *, sign: str = "") -> str:
    """An amount as staff read it everywhere in the admin: "2,500 XTR"; `sign` "minus" for money going
    back ("−250 XTR"), "plus" for money coming in ("+250 XTR"); None -> "—". The currency is shown as
    its code (redacted like any stored text), never as an emoji."""
    if amount is None:
        return "—"
    prefix = {"plus": "+", "minus": MINUS if amount else ""}.get(sign, "")
    return f"{prefix}{amount:,} {redact(currency)}"


def signed_thousands(value) -> str:
    """12500 -> "12,500", -250 -> "−250" (a real minus sign); None -> "—"."""
    if value is None:
        return "—"
    return f"{MINUS if value < 0 else ''}{abs(value):,}"


def stars(value) -> str:
    """Whole Stars as "12,500 XTR"; None -> "—"."""
    return amount_text(value)


def stars_out(value) -> str:
    """Stars that went back (refunds), as "−250 XTR" ("0 XTR" for none); None -> "—"."""
    return amount_text(value, sign="minus")


def signed_stars(value) -> str:
    """A balance of Stars (net): "2,350 XTR", or "−250 XTR" below zero; None -> "—"."""
    if value is None:
        return "—"
    return amount_text(abs(value), sign="minus" if value < 0 else "")


def nanostars_number(nanostars: int | None) -> str:
    """A StarAmount in nanostars as "1,250" or "1,250.5" (a fraction only when there is one)."""
    if nanostars is None:
        return "—"
    whole, fraction = divmod(abs(nanostars), NANOSTARS_PER_STAR)
    sign = MINUS if nanostars < 0 else ""
    text = f"{sign}{whole:,}"
    if fraction:
        text += f".{fraction:09d}".rstrip("0")
    return text


def nanostars_as_stars(nanostars: int | None) -> str:
    """A StarAmount in nanostars as "1,250 XTR" or "1,250.5 XTR"; None -> "—"."""
    return "—" if nanostars is None else f"{nanostars_number(nanostars)} XTR"


def usd_estimate(whole_stars: int | None) -> str:
    """An estimate in US dollars at `STARS_USD_RATE`, e.g. "≈ $162.50"; None -> "—"."""
    if whole_stars is None:
        return "—"
    amount = (Decimal(whole_stars) * stars_settings.STARS_USD_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = MINUS if amount < 0 else ""
    return f"≈ {sign}${abs(amount):,.2f}"
