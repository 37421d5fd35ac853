"""The "At a glance" admin page: revenue (gross, refunded, net, per product, beside the previous
period), the Stars in Telegram's hold, the bot's balance as last fetched, failures and entitlements.

The charts are inline SVG drawn by the template from numbers computed here: no JavaScript, no CDN,
so the page works offline. Every figure comes from a fixed number of aggregate queries
(`telegram_payments.reads.revenue`); the page never calls Telegram: the balance is read as stored, and the
"refresh now" button (a POST) is what asks.
"""

from datetime import date

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from telegram_payments.conf import stars_settings
from telegram_payments.reads import revenue
from telegram_payments.reads.money import nanostars_as_stars
from telegram_payments.reconcile.balance import (
    INTERACTIVE_TIMEOUT,
    MIN_INTERVAL,
    refresh_star_balance,
    stored_star_balance,
)

DAYS = revenue.DEFAULT_PERIOD


def glance_stats(*, days: int = DAYS, now=None) -> dict:
    """The figures of the page: the last `days` days (today included) and the `days` before them."""
    now = now or timezone.now()
    figures = revenue.revenue(days=days, now=now)
    waiting = revenue.waiting_counts()
    current = figures.current
    return {
        "period_days": days,
        "periods": revenue.PERIODS,
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
        "active_entitlements": revenue.active_entitlements(now=now),
        "balance": stored_star_balance(),
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
    label_every = 1 if len(values) <= 10 else 5 if len(values) <= 31 else 15
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


def _period(request) -> int | None:
    raw = request.GET.get("days", str(DAYS))
    return int(raw) if raw in {str(d) for d in revenue.PERIODS} else None


def glance(request, *, admin_context: dict, opts):
    days = _period(request)
    if days is None:
        return HttpResponseBadRequest(f"days must be one of {', '.join(map(str, revenue.PERIODS))}",
                                      content_type="text/plain")
    stats = glance_stats(days=days)
    context = {
        **admin_context,
        "opts": opts,
        "title": "At a glance",
        "stats": stats,
        "stars_chart": bar_chart([(d.day, d.stars) for d in stats["days"]], unit="XTR", colour="#2f81f7"),
        "refunds_chart": bar_chart([(d.day, d.refunds) for d in stats["days"]], unit="refunds",
                                   colour="#cf222e", height=160),
    }
    return TemplateResponse(request, "admin/telegram_payments/glance.html", context)


def refresh_balance(request):
    """POST: ask Telegram for the bot's balance now (short timeout); the outcome as a message."""
    balance, asked = refresh_star_balance(timeout=INTERACTIVE_TIMEOUT, min_interval=MIN_INTERVAL)
    if not asked:
        messages.info(request, f"The balance was asked for less than {MIN_INTERVAL.seconds} seconds ago; "
                               "showing that answer.")
    elif balance.error:
        messages.error(request, f"Telegram did not give the balance: {balance.error}. "
                                "The last known balance is shown.")
    else:
        messages.success(request, f"Balance refreshed: {nanostars_as_stars(balance.nanostars)}.")
    return redirect(reverse("admin:telegram_payments_glance") + _keep_period(request))


def _keep_period(request) -> str:
    days = request.POST.get("days", "")
    return f"?days={days}" if days in {str(d) for d in revenue.PERIODS} else ""
