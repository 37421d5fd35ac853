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


@register.simple_tag(takes_context=True)
def failing_events(context) -> int:
    """How many audit events of the bots this staff member sees failed and wait for staff (replay or refund)."""
    from telegram_payments.admin.mixins import sees_every_bot, visible_bots

    request = context.get("request")
    if request is None:
        return 0  # no staff member: no bot's figures
    return failing_event_count(bots=None if sees_every_bot(request) else visible_bots(request))
