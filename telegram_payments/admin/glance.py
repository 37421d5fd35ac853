"""The "At a glance" admin page: revenue, refunds, failures and entitlements, server-rendered.

The charts are inline SVG drawn by the template from numbers computed here: no JavaScript, no CDN,
so the page works offline. Every figure comes from a handful of aggregate queries.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.template.response import TemplateResponse
from django.utils import timezone

from entitlements.models import Entitlement

from ..models import EVENT_PAYMENT, EVENT_REFUND, STARS_CURRENCY, EventStatus, StripeEvent
from ..selectors import failed_waiting

DAYS = 30


@dataclass(frozen=True)
class DayFigures:
    day: date
    stars: int = 0
    payments: int = 0
    refunds: int = 0
    refunded_stars: int = 0


def glance_stats(*, now: datetime | None = None) -> dict:
    """The figures of the page: the last `DAYS` days (today included) in the current time zone."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=DAYS - 1)
    start = datetime.combine(first_day, time.min, tzinfo=timezone.get_current_timezone())
    processed = StripeEvent.objects.filter(status=EventStatus.PROCESSED, received_at__gte=start)

    def per_day(queryset):
        rows = (
            queryset.annotate(day=TruncDate("received_at")).values("day")
            .annotate(count=Count("id"), stars=Sum("amount_cents")).order_by()
        )
        return {row["day"]: (row["count"], row["stars"] or 0) for row in rows}

    payments = per_day(processed.filter(event_type=EVENT_PAYMENT, currency=STARS_CURRENCY))
    refunds = per_day(processed.filter(event_type=EVENT_REFUND))
    days = []
    for offset in range(DAYS):
        day = first_day + timedelta(days=offset)
        paid_count, stars = payments.get(day, (0, 0))
        refund_count, refunded_stars = refunds.get(day, (0, 0))
        days.append(DayFigures(day, stars, paid_count, refund_count, refunded_stars))

    total_payments = sum(d.payments for d in days)
    total_refunds = sum(d.refunds for d in days)
    active = (
        Entitlement.objects.active(now).values("entitlement_type")
        .annotate(count=Count("id"), users=Count("user_id", distinct=True)).order_by("entitlement_type")
    )
    return {
        "days": days,
        "first_day": first_day,
        "today": today,
        "stars_total": sum(d.stars for d in days),
        "refunded_stars_total": sum(d.refunded_stars for d in days),
        "payments_total": total_payments,
        "refunds_total": total_refunds,
        "refund_rate": (100.0 * total_refunds / total_payments) if total_payments else None,
        "failed_waiting": failed_waiting().count(),  # a refunded failed payment has ended
        "pending_waiting": StripeEvent.objects.filter(status=EventStatus.PENDING).count(),
        "active_entitlements": list(active),
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
    bars, labels = [], []
    for index, (day, value) in enumerate(values):
        bar_h = plot_h * value / top_value
        x = left + index * slot
        bars.append({
            "x": round(x + slot * 0.15, 1), "y": round(top + plot_h - bar_h, 1),
            "width": round(slot * 0.7, 1), "height": round(bar_h, 1),
            "title": f"{day:%a %d %b}: {value} {unit}", "value": value,
        })
        if index % 5 == 0 or index == len(values) - 1:
            labels.append({"x": round(x + slot / 2, 1), "text": f"{day:%d %b}"})
    grid = [
        {"y": round(top + plot_h - plot_h * fraction, 1), "text": f"{top_value * fraction:g}"}
        for fraction in (0, 0.5, 1)
        if float(top_value * fraction).is_integer()  # counts: no "0.5 refunds" line
    ]
    return {"width": width, "height": height, "left": left, "right": width - right, "bottom": top + plot_h,
            "label_y": height - 8, "bars": bars, "labels": labels, "grid": grid, "colour": colour, "unit": unit}


def glance(request, *, admin_context: dict, opts):
    stats = glance_stats()
    context = {
        **admin_context,
        "opts": opts,
        "title": "At a glance",
        "stats": stats,
        "stars_chart": bar_chart([(d.day, d.stars) for d in stats["days"]], unit="⭐", colour="#2f81f7"),
        "refunds_chart": bar_chart([(d.day, d.refunds) for d in stats["days"]], unit="refunds",
                                   colour="#cf222e", height=160),
    }
    return TemplateResponse(request, "admin/telegram_payments/glance.html", context)
