"""The "At a glance" admin page: revenue (gross, refunded, net, per product, beside the previous
period), the Stars in Telegram's hold, the bot's balance as last fetched, failures and entitlements.

The charts are inline SVG drawn by the template from numbers computed here: no JavaScript, no CDN,
so the page works offline. Every figure comes from a fixed number of aggregate queries
(`telegram_payments.reads.revenue`); the page never calls Telegram: the balance is read as stored, and the
"refresh now" button (a POST) is what asks.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from telegram_payments.admin.export import csv_cell
from telegram_payments.conf import stars_settings
from telegram_payments.models import StarBalance
from telegram_payments.reads import revenue
from telegram_payments.reads.money import nanostars_as_stars
from telegram_payments.reconcile.balance import INTERACTIVE_TIMEOUT, MIN_INTERVAL, refresh_star_balance
from telegram_payments.registry import access
from telegram_payments.registry import bots as bot_registry

DAYS = revenue.DEFAULT_PERIOD
MAX_SPAN_DAYS = 366  # a from/to range: at most a year of days on one page
MONTHS_OFFERED = 3  # this month and the two before, as links


@dataclass(frozen=True)
class Span:
    """The days a page shows (`first_day` to `last_day`, both included) and the span it is set beside
    (from `previous_first_day` to the day before `first_day`), with the query that asks for it."""

    first_day: date
    last_day: date
    previous_first_day: date
    label: str
    query: dict = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def previous_last_day(self) -> date:
        return self.first_day - timedelta(days=1)


def _month_start(day: date, back: int = 0) -> date:
    """The first day of the month `back` months before `day`'s."""
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


def month_span(first: date, today: date) -> Span:
    """A calendar month (up to today, if it is this month) beside the whole month before."""
    last = min(_month_start(first, -1) - timedelta(days=1), today)
    return Span(first, last, _month_start(first, 1), f"{first:%B %Y}", {"month": f"{first:%Y-%m}"})


def span_from(params, today: date) -> Span | str:
    """The span a request asks for, or why it cannot be shown (a 400's reason): `days` (7, 30 or 90,
    the default 30), `month` (YYYY-MM, not after this month), or `from` and `to` (YYYY-MM-DD, at most
    MAX_SPAN_DAYS days, `to` not after today). Each beside as many days just before; a month beside
    the month before."""
    if "month" in params:
        try:
            first = date.fromisoformat(params["month"] + "-01") if len(params["month"]) == 7 else None
        except ValueError:
            first = None
        if first is None or first > today:
            return "month must be a month up to this one, as YYYY-MM"
        return month_span(first, today)
    if "from" in params or "to" in params:
        try:
            first, last = date.fromisoformat(params.get("from", "")), date.fromisoformat(params.get("to", ""))
        except ValueError:
            return "from and to must both be dates, as YYYY-MM-DD"
        if first > last or last > today:
            return "from must be on or before to, and to not after today"
        if (last - first).days + 1 > MAX_SPAN_DAYS:
            return f"a range spans at most {MAX_SPAN_DAYS} days"
        days = (last - first).days + 1
        return Span(first, last, first - timedelta(days=days), f"{first} to {last}",
                    {"from": first.isoformat(), "to": last.isoformat()})
    raw = params.get("days", str(DAYS))
    if raw not in {str(d) for d in revenue.PERIODS}:
        return f"days must be one of {', '.join(map(str, revenue.PERIODS))}"
    days = int(raw)
    first = today - timedelta(days=days - 1)
    return Span(first, today, first - timedelta(days=days), f"last {days} days", {"days": raw})


def glance_stats(*, days: int = DAYS, now=None, span: Span | None = None, bots=None) -> dict:
    """The figures of the page: `span` (default: the last `days` days, today included) and the span before,
    of `bots` together (None: every bot's): their payments, their waiting events, the grants in their
    scopes, and each one's balance with their sum."""
    now = now or timezone.now()
    shown = list(bots) if bots is not None else bot_registry.all()
    scopes = access.scopes_of(shown) if bots is not None else None
    today = timezone.localdate(now)
    if span is None:
        span = span_from({"days": str(days)}, today)
    figures = revenue.revenue(now=now, first_day=span.first_day, last_day=span.last_day,
                              previous_first_day=span.previous_first_day, bots=bots)
    waiting = revenue.waiting_counts(bots=bots)
    stored = {balance.bot_id: balance for balance in StarBalance.objects.filter(bot__in=[bot.pk for bot in shown])}
    balances = [{"bot": bot, "balance": stored.get(bot.pk)} for bot in shown]
    known = [row["balance"].nanostars for row in balances
             if row["balance"] is not None and row["balance"].nanostars is not None]
    current = figures.current
    return {
        "span": span,
        "calendar_today": today,
        "period_days": span.days,
        "periods": revenue.PERIODS,
        "months": [month_span(_month_start(today, back), today) for back in range(MONTHS_OFFERED)],
        "days": figures.days,
        "first_day": figures.first_day,
        "today": figures.today,
        "current": current,
        "previous": figures.previous,
        "products": figures.products,
        "unmatched_refunds": figures.unmatched_refunds,
        "in_hold": figures.in_hold,
        "past_hold": figures.past_hold,
        "hold_days": revenue.HOLD.days,
        "usd_rate": stars_settings.STARS_USD_RATE,
        "stars_total": current.gross,
        "refunded_stars_total": current.refunded,
        "net_total": current.net,
        "payments_total": current.payments,
        "refunds_total": current.refunds,
        "refund_rate": current.refund_rate,
        "failed_waiting": waiting["failed"],
        "pending_waiting": waiting["pending"],
        "active_entitlements": revenue.active_entitlements(now=now, scopes=scopes),
        "bots": shown,
        # One bot: its balance as before; several: each one's, and their sum (of those fetched).
        "balance": balances[0]["balance"] if len(balances) == 1 else None,
        "balances": balances,
        "balance_total": sum(known) if known else None,
    }


def _nice_ceiling(value: int) -> int:
    """1, 2, 5, 10, 20, 50, ... at or above value (at least 1), for a readable axis."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(values: list[tuple[date, int]], *, unit: str, colour: str, width=760, height=220) -> dict:
    """Geometry of a bar chart for the template's inline SVG."""
    left, right, top, bottom = 56, 8, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_ceiling(max((v for _, v in values), default=0))
    slot = plot_w / max(len(values), 1)
    room = max(plot_w // 60, 2)  # labels that fit side by side, about 60 units each
    label_every = next(n for n in (1, 2, 5, 7, 10, 15, 30, 61, 92) if len(values) <= room * n or n == 92)
    bars, labels = [], []
    for index, (day, value) in enumerate(values):
        bar_h = plot_h * value / top_value
        x = left + index * slot
        bars.append({
            "x": round(x + slot * 0.15, 1), "y": round(top + plot_h - bar_h, 1),
            "width": round(slot * 0.7, 1), "height": round(bar_h, 1),
            "title": f"{day:%a %d %b}: {value:,} {unit}", "value": value,
        })
        if index % label_every == 0 or index == len(values) - 1:
            labels.append({"x": round(x + slot / 2, 1), "text": f"{day:%d %b}"})
    grid = [
        {"y": round(top + plot_h - plot_h * fraction, 1), "text": f"{top_value * fraction:,g}"}
        for fraction in (0, 0.5, 1)
        if float(top_value * fraction).is_integer()  # counts: no "0.5 refunds" line
    ]
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": top + plot_h,
            "label_y": height - 8, "bars": bars, "labels": labels, "grid": grid, "colour": colour, "unit": unit}


def _span(request) -> Span | HttpResponse:
    span = span_from(request.GET, timezone.localdate())
    if isinstance(span, str):
        return HttpResponseBadRequest(f"invalid_period: {span}", content_type="text/plain; charset=utf-8")
    return span


def chosen_bots(params, visible: list) -> list:
    """The bots a page shows: `?bot=<slug>` for one of the visible bots (404 for any other), else all of
    them together."""
    slug = params.get("bot", "")
    if not slug:
        return list(visible)
    chosen = [bot for bot in visible if bot.slug == slug]
    if not chosen:
        raise Http404("No such bot.")
    return chosen


def _bot_query(params) -> dict:
    return {"bot": params["bot"]} if params.get("bot") else {}


def glance(request, *, admin_context: dict, opts, bots: list):
    span = _span(request)
    if isinstance(span, HttpResponse):
        return span
    shown = chosen_bots(request.GET, bots)
    stats = glance_stats(span=span, bots=shown)
    bot_query = _bot_query(request.GET)
    stars = [(d.day, d.stars) for d in stats["days"]]
    refunds = [(d.day, d.refunds) for d in stats["days"]]
    context = {
        **admin_context,
        "opts": opts,
        "title": "At a glance",
        "stats": stats,
        "stars_chart": bar_chart(stars, unit="XTR", colour="#2f81f7"),
        "refunds_chart": bar_chart(refunds, unit="refunds", colour="#cf222e", height=160),
        # The same charts drawn for a phone's width (shown below 600 px instead): readable at 390 px.
        "stars_chart_narrow": bar_chart(stars, unit="XTR", colour="#2f81f7", width=360, height=200),
        "refunds_chart_narrow": bar_chart(refunds, unit="refunds", colour="#cf222e", width=360, height=150),
        "csv_query": urlencode({**span.query, **bot_query}),
        # The bot chooser (shown when more than one bot is visible), and the bot kept by the period links.
        "visible_bots": bots,
        "chosen_bot": shown[0] if bot_query and len(bots) > 1 else None,
        "bot_suffix": f"&{urlencode(bot_query)}" if bot_query else "",
        "span_query": urlencode(span.query),
    }
    return TemplateResponse(request, "admin/telegram_payments/glance.html", context)


FIGURE_COLUMNS = ["section", "label", "payments", "received", "of which in failed payments", "refunds", "refunded",
                  "refunds of payments never seen", "refunded, payment never seen", "net"]


def glance_csv(request, *, bots: list):
    """The figures At a glance shows for the same span and bots, as CSV: each day, the span and the one
    before, each product. Stars as whole numbers, refunds as they reduce net (negative)."""
    span = _span(request)
    if isinstance(span, HttpResponse):
        return span
    shown = chosen_bots(request.GET, bots)
    stats = glance_stats(span=span, bots=shown)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    which = f"-{shown[0].slug}" if request.GET.get("bot") else ""
    response["Content-Disposition"] = (
        f'attachment; filename="at-a-glance{which}-{span.first_day}-{span.last_day}.csv"')
    writer = csv.writer(response)
    writer.writerow(FIGURE_COLUMNS)

    def row(section: str, label, figures) -> None:
        # Labels through csv_cell (no cell read as a formula); the figures are integers, written as numbers.
        writer.writerow([csv_cell(section), csv_cell(label)] + [int(value) for value in (
            figures.payments, figures.gross, figures.failed_gross, figures.refunds, -figures.refunded,
            figures.unseen_refunds, -figures.unseen_refunded, figures.net)])

    row("period", f"{span.first_day} to {span.last_day}", stats["current"])
    row("previous period", f"{span.previous_first_day} to {span.previous_last_day}", stats["previous"])
    for day in stats["days"]:
        row("day", day.day.isoformat(), day)
    for product in stats["products"]:
        row("product", product.entitlement_type or "—", product)
    return response


def refresh_balance(request, *, bots: list):
    """POST: ask Telegram for a bot's balance now (short timeout; `bot`: its slug, needed when several
    bots are visible); the outcome as a message."""
    if not request.POST.get("bot") and len(bots) != 1:
        return HttpResponseBadRequest("bot: which bot's balance to refresh", content_type="text/plain; charset=utf-8")
    bot = chosen_bots(request.POST, bots)[0]
    balance, asked = refresh_star_balance(bot=bot, timeout=INTERACTIVE_TIMEOUT, min_interval=MIN_INTERVAL)
    if not asked:
        messages.info(request, f"The balance was asked for less than {MIN_INTERVAL.seconds} seconds ago; "
                               "showing that answer.")
    elif balance.error:
        messages.error(request, f"Telegram did not give the balance: {balance.error}. "
                                "The last known balance is shown.")
    else:
        whose = f" of {bot.name}" if len(bots) > 1 else ""
        messages.success(request, f"Balance{whose} refreshed: {nanostars_as_stars(balance.nanostars)}.")
    return redirect(reverse("admin:telegram_payments_glance") + _keep_period(request))


def _keep_period(request) -> str:
    """The page's span (and bot) again after a refresh (the form posts the page's query back)."""
    span = span_from(request.POST, timezone.localdate())
    query = dict(span.query) if not isinstance(span, str) and request.POST.keys() & {
        "days", "month", "from", "to"} else {}
    query.update(_bot_query({"bot": request.POST.get("page_bot", "")}))
    return f"?{urlencode(query)}" if query else ""
