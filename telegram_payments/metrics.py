"""Prometheus metrics: what they are, where they are counted, and the /metrics endpoint.

Everything is defined here so that an operator reads one file to know what is exported. Services
count outcomes where they are known (`record_outcome`, `observe_outcome`); the Bot API client
counts its calls (`BOT_API_CALLS`); a middleware times every request by view; the numbers that
live in the database (failed events waiting, outbox rows waiting) are read at scrape time.

Multi-process servers (gunicorn with several workers): set `PROMETHEUS_MULTIPROC_DIR` to an
empty, writable directory before the server starts (gunicorn.conf.py empties it and tells the
library when a worker exits); each worker then writes its numbers there and any worker's
/metrics answers with the sum of all. Without it each worker would answer with its own counts.

The business counters and the failing gauge carry a `bot` label: the bot's slug, always read from a
`Bot` row (the registry's, or the event's bot), never from a request's URL, so the series are bounded
by the number of bots this deployment serves. `sum without (bot)` gives a deployment's totals.

The outbox's counter is defined in `entitlements.metrics` (that app imports nothing from this one).
"""

import functools
import hmac
import ipaddress
import logging
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_safe

from entitlements.metrics import OUTBOX_DELIVERIES, Counter, Histogram

try:
    import prometheus_client
except ImportError:  # the `metrics` extra is not installed: counters count nothing, /metrics says so
    prometheus_client = None
from telegram_payments.conf import stars_settings

logger = logging.getLogger(__name__)


# --- what is exported ----------------------------------------------------------------------------

REQUEST_LATENCY = Histogram(
    "telegram_stars_http_request_duration_seconds",
    "Time to answer an HTTP request, by view (URL pattern name), method and status code.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PAYMENTS = Counter(
    "telegram_stars_payments",
    "Payments processed (granted or recorded), by product (entitlement type) and bot (slug).",
    ["product", "bot"],
)
STARS_RECEIVED = Counter(
    "telegram_stars_received_stars",
    "Telegram Stars received in processed payments, by product and bot.",
    ["product", "bot"],
)
REFUNDS = Counter(
    "telegram_stars_refunds",
    "Refunds processed, by source (telegram, relay, staff, reconciliation, manual) and bot.",
    ["source", "bot"],
)
DUPLICATES = Counter(
    "telegram_stars_duplicate_events",
    "Deliveries of an event already stored, absorbed without effect, by event kind and bot.",
    ["kind", "bot"],
)
EVENTS_FAILED = Counter(
    "telegram_stars_failed_events",
    "Events recorded as failed (unknown product, wrong amount...), by event kind and bot.",
    ["kind", "bot"],
)
SUBSCRIPTION_UPDATES = Counter(
    "telegram_stars_subscription_updates",
    "Subscription changes Telegram reported, recorded now, by state (canceled, active, failed: a renewal's "
    "payment failed) and bot.",
    ["state", "bot"],
)
PRE_CHECKOUT_ANSWERS = Counter(
    "telegram_stars_pre_checkout_answers",
    "Answers to pre-checkout queries, by outcome (ok, or the reason for refusing) and bot.",
    ["outcome", "bot"],
)
BOT_API_CALLS = Counter(
    "telegram_bot_api_calls",
    "Calls to the Telegram Bot API, by method, result (ok, error, transient_error, not_configured) and bot "
    "(\"(new)\": a token being checked before its bot is added).",
    ["method", "result", "bot"],
)
LIMITER_CACHE_ERRORS = Counter(
    "telegram_stars_auth_limiter_cache_errors",
    "Failed-secret limiter reads or writes the cache (CACHE_URL) refused: while it rises, wrong secrets are "
    "answered 401 but not limited (429).",
)
OUTBOX_DELIVERIES = OUTBOX_DELIVERIES  # counted by entitlements.outbox, defined there


class DatabaseGauges:
    """Gauges read from the database at scrape time, one COUNT query each.

    A scrape still answers (without these) when the database is away, so that the process
    metrics do not vanish exactly when they are needed.
    """

    def collect(self):
        from django.db import DatabaseError
        from django.db.models import Count
        from prometheus_client.core import GaugeMetricFamily

        from entitlements.models import OutboxMessage
        from telegram_payments.reads.selectors import failed_waiting
        from telegram_payments.registry import bots

        try:
            failed = dict(failed_waiting().order_by().values_list("bot__slug").annotate(Count("pk")))
            outbox = OutboxMessage.objects.filter(delivered_at__isnull=True).count()
            every_bot = [bot.slug for bot in bots.all()]
        except DatabaseError as exc:
            logger.warning("metrics: database gauges skipped: %s", type(exc).__name__)
            return
        failing = GaugeMetricFamily(
            "telegram_stars_failed_events_waiting",
            "Failing events: failed and not ended (refunded, fulfilled by a staff grant or dismissed), by bot.",
            labels=["bot"],
        )
        for slug in sorted(set(every_bot) | set(failed)):  # every active bot, at 0 too: an alert has a series
            failing.add_metric([slug], failed.get(slug, 0))
        yield failing
        yield GaugeMetricFamily(
            "entitlements_outbox_messages_waiting",
            "Grants and revokes not yet delivered to ENTITLEMENTS_SERVICE_URL.",
            value=outbox,
        )


# --- counting ----------------------------------------------------------------------------------


def _event_kind(event) -> str:
    if event.is_refund:
        return "refund"
    if event.is_payment:
        return "payment"
    return "subscription" if event.is_subscription_update else "other"


NEW_BOT = "(new)"  # no slug has parentheses


def bot_label(bot) -> str:
    """The `bot` label of `bot` (a `Bot` row): its slug; "(new)" for a token checked before its bot exists."""
    return bot.slug if bot is not None and bot.slug else NEW_BOT


def _event_bot(event) -> str:
    from telegram_payments.registry import bots

    loaded = type(event).bot.is_cached(event)  # the event's own row, else the registry's (no query)
    return bot_label(event.bot if loaded else bots.get(event.bot_id))


def record_outcome(outcome) -> None:
    """Count one `EventOutcome` (processed, duplicate or failed) of a payment or refund, for its event's bot."""
    event = outcome.event
    kind = _event_kind(event)
    bot = _event_bot(event)
    if outcome.status == "duplicate":  # an Outcome (a str enum); metrics know nothing of the apps
        DUPLICATES.labels(kind=kind, bot=bot).inc()
    elif outcome.status == "failed":
        EVENTS_FAILED.labels(kind=kind, bot=bot).inc()
    elif outcome.status == "processed":
        if kind == "payment":
            product = event.entitlement_type or "unknown"
            PAYMENTS.labels(product=product, bot=bot).inc()
            STARS_RECEIVED.labels(product=product, bot=bot).inc(max(event.amount_cents or 0, 0))
        elif kind == "refund":
            REFUNDS.labels(source=event.source, bot=bot).inc()


def observe_outcome(func):
    """Decorator for services returning an `EventOutcome`: counts it with `record_outcome`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        outcome = func(*args, **kwargs)
        try:
            record_outcome(outcome)
        except Exception:  # metrics must never break a payment
            logger.exception("metrics: could not count an outcome")
        return outcome

    return wrapper


def record_subscription_update(state: str, *, bot) -> None:
    """Count one subscription update `bot` recorded now: "canceled", "active" or "failed"."""
    SUBSCRIPTION_UPDATES.labels(state=state, bot=bot_label(bot)).inc()


def record_pre_checkout_answer(outcome: str, *, bot) -> None:
    """Count one pre-checkout answer of `bot`: "ok", or a short reason for refusing ("unknown_invoice"...)."""
    PRE_CHECKOUT_ANSWERS.labels(outcome=outcome, bot=bot_label(bot)).inc()


def record_bot_api_call(method: str, result: str, *, bot) -> None:
    """Count one Bot API call `bot` made: "ok", "error", "transient_error" or "not_configured"."""
    BOT_API_CALLS.labels(method=method, result=result, bot=bot_label(bot)).inc()


def _static_prefix() -> str:
    return "/" + settings.STATIC_URL.lstrip("/")


# Methods labelled by name; any other (a client may send any token) is counted as "other".
LABELLED_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS"})


class RequestMetricsMiddleware:
    """Times every request, labelled from fixed sets only, so that no client can grow /metrics:
    the URL pattern's name (never the raw path; "static" for static files, "unmatched" when no
    pattern matched), the method (LABELLED_METHODS or "other") and the status code."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match:
            view = match.view_name or match.route or "unnamed"
        else:  # answered before URL resolution (WhiteNoise) or no URL matched (404)
            view = "static" if request.path_info.startswith(_static_prefix()) else "unmatched"
        method = request.method if request.method in LABELLED_METHODS else "other"
        REQUEST_LATENCY.labels(view=view, method=method, status=str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


# --- the /metrics endpoint -----------------------------------------------------------------------


def _client_allowed(request) -> bool:
    networks = stars_settings.METRICS_ALLOWED_NETWORKS
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def _token_matches(request) -> bool:
    expected = stars_settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, given = header.partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


class _Scrape:
    """What one scrape reads: the counters (this process's, or every worker's) and the DB gauges."""

    def __init__(self, counters):
        self.counters = counters

    def collect(self):
        yield from self.counters.collect()
        yield from DatabaseGauges().collect()


def scrape_registry():
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return _Scrape(registry)
    return _Scrape(REGISTRY)


@require_safe
def metrics_view(request):
    """GET /metrics: Prometheus text format, for a bearer token or an allowed network only.

    Allowed when the client's address (REMOTE_ADDR, the direct peer) is in METRICS_ALLOWED_NETWORKS,
    or when it sends `Authorization: Bearer <METRICS_TOKEN>`. Otherwise 401 if a token is
    configured (so the scraper knows to send one), else 403.
    """
    if not (_client_allowed(request) or _token_matches(request)):
        if stars_settings.METRICS_TOKEN:
            response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    if prometheus_client is None:
        return HttpResponse("prometheus_client is not installed (pip install 'django-telegram-stars[metrics]')\n",
                            status=501, content_type="text/plain")
    return HttpResponse(prometheus_client.generate_latest(scrape_registry()),
                        content_type=prometheus_client.CONTENT_TYPE_LATEST)
