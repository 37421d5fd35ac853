"""Template filters and tags of the support pages: Stars with thousands separators, the failing count."""

from django import template

from telegram_payments.reads import money
from telegram_payments.reads.revenue import failing_event_count

register = template.Library()

register.filter("thousands", money.thousands)
register.filter("stars", money.stars)
register.filter("stars_out", money.stars_out)
register.filter("signed_thousands", money.signed_thousands)
register.filter("signed_stars", money.signed_stars)
register.filter("nanostars", money.nanostars_number)
register.filter("usd", money.usd_estimate)


@register.simple_tag
def failing_events() -> int:
    """How many audit events failed and wait for staff (replay or refund)."""
    return failing_event_count()
