"""What every webhook view shares: the secret header, the body limit and JSON error bodies."""

import codecs
import functools
import hmac
import ipaddress
import logging
import math

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.utils import json
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from .services import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)

SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


class Unauthorized(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "unauthorized"
    default_detail = "Missing or wrong X-Telegram-Bot-Api-Secret-Token header."


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"
    default_detail = "Request body is too large."


class TooManyAuthFailures(exceptions.Throttled):
    default_code = "too_many_auth_failures"
    default_detail = "Too many requests with a missing or wrong secret from this address."


class ForbiddenSource(exceptions.PermissionDenied):
    default_code = "forbidden_source"
    default_detail = "This address is not in TELEGRAM_IP_RANGES."


# Telegram updates nest 5-6 levels deep; far deeper JSON is an attack on the parser or on jsonb.
MAX_JSON_DEPTH = 32


def _reject_non_finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf, which neither JSON nor jsonb can store
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _check_storable(value) -> None:
    """Depth within MAX_JSON_DEPTH, and no string PostgreSQL cannot store (NUL, lone surrogates)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("strings must not contain NUL (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("strings must be valid Unicode (lone surrogate escape)") from None
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


class WebhookJSONParser(JSONParser):
    """DRF's strict JSON parser, plus: only what can be stored as the event's payload gets through.

    The body is stored as received (jsonb), so anything PostgreSQL would refuse (NUL, lone
    surrogates, infinite numbers, absurd nesting) is a 400 here rather than a 500 at insert time.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            value = json.load(
                codecs.getreader(encoding)(stream),
                parse_constant=json.strict_constant if self.strict else None,  # NaN, Infinity
                parse_float=_reject_non_finite,
            )
            _check_storable(value)
        except (ValueError, RecursionError, LookupError) as exc:  # LookupError: unknown charset
            raise exceptions.ParseError(f"JSON parse error - {str(exc)[:200]}") from None
        return value


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address
    the outermost trusted proxy saw (X-Forwarded-For entries further left are the client's own claims).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-count] if len(forwarded) >= count else remote


@functools.lru_cache(maxsize=8)
def _networks(ranges: tuple[str, ...]):
    return tuple(ipaddress.ip_network(r, strict=False) for r in ranges)


def ip_allowed(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.TELEGRAM_IP_RANGES)))


def count_auth_failure(ip: str) -> int:
    """Failures from `ip` in the current window (fixed window in Django's cache, per process by default)."""
    key = f"webhook-auth-failures:{ip}"
    cache.add(key, 0, timeout=settings.WEBHOOK_AUTH_FAILURE_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.WEBHOOK_AUTH_FAILURE_WINDOW)
        return 1


def secret_matches(given: str) -> bool:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    # compare_digest takes the same time whatever the prefix that matches.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class WebhookView(APIView):
    """Base of the endpoints Telegram (or its relay) calls: authenticated by the secret header only."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [WebhookJSONParser]

    def initial(self, request, *args, **kwargs):
        if settings.TELEGRAM_IP_ALLOWLIST and not ip_allowed(client_ip(request)):
            raise ForbiddenSource()
        if not secret_matches(request.META.get(SECRET_HEADER, "")):
            # Only failures are counted and limited: a request with the right secret always passes.
            if count_auth_failure(client_ip(request)) > settings.WEBHOOK_AUTH_FAILURE_LIMIT:
                raise TooManyAuthFailures(wait=settings.WEBHOOK_AUTH_FAILURE_WINDOW)
            raise Unauthorized()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.WEBHOOK_MAX_BODY_BYTES or len(request.body) > settings.WEBHOOK_MAX_BODY_BYTES:
            raise BodyTooLarge()
        super().initial(request, *args, **kwargs)


def outcome_response(outcome) -> Response:
    return Response(
        {
            "ok": True,
            "status": outcome.status,
            "event_id": outcome.event.event_id,
            "event_status": outcome.event.get_status_display(),
        }
    )


def exception_handler(exc, context):
    """JSON errors with a machine-readable reason; never a stack trace; 503 when the DB is away."""
    if isinstance(exc, TRANSIENT_ERRORS):
        logger.error("database unavailable: %s", type(exc).__name__)
        return Response(
            {"ok": False, "error": "database_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, exceptions.ValidationError):
        return Response({"ok": False, "errors": exc.detail}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response(
            {"ok": False, "errors": {"body": ["Malformed JSON: the body must be one JSON object."]}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = {"ok": False, "error": code if isinstance(code, str) else "error",
                         "detail": response.data.get("detail", "") if isinstance(response.data, dict) else ""}
    return response
