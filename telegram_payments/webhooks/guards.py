"""Guards every webhook view applies before its work: a parser that only admits storable JSON,
per-address limits on failed secret checks, and an optional allowlist of source addresses."""

import codecs
import functools
import ipaddress
import logging
import math
import time

from django.core.cache import cache
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from telegram_payments.conf import stars_settings
from telegram_payments.metrics import LIMITER_CACHE_ERRORS

logger = logging.getLogger(__name__)


class TooManyAuthFailures(exceptions.Throttled):
    default_code = "too_many_auth_failures"
    default_detail = "Too many requests with a missing or wrong secret from this address."


class ForbiddenSource(exceptions.PermissionDenied):
    default_code = "forbidden_source"
    default_detail = "This address is not in the IP ranges Telegram sends webhooks from (IP_RANGES)."


# Telegram updates nest 5-6 levels deep; far deeper JSON is an attack on the parser or on jsonb.
MAX_JSON_DEPTH = 32


def _reject_non_finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf, which neither JSON nor jsonb can store
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _is_storable_text(text: str) -> bool:
    """No NUL and no lone surrogate: text PostgreSQL can store."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_key(key: str) -> str:
    """An object key as stored: NUL and lone surrogates written as their JSON escapes (`\\u0000`),
    as text. The schema (OpenAPI 3.0) cannot restrict key names, so such a key is accepted; no key we
    read can hold them, so nothing we act on changes."""
    if _is_storable_text(key):
        return key
    return "".join(f"\\u{ord(c):04x}" if c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF else c for c in key)


def _check_storable(value) -> None:
    """Depth within MAX_JSON_DEPTH, and no string value PostgreSQL cannot store (NUL, lone
    surrogates: ValueError); keys holding them are escaped in place (`storable_key`)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("strings must not contain NUL (\\u0000)")
            if not _is_storable_text(item):
                raise ValueError("strings must be valid Unicode (lone surrogate escape)")
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in [key for key in item if not _is_storable_text(key)]:
                    item.setdefault(storable_key(key), item.pop(key))
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


# The charsets JSON may come in (RFC 8259 names UTF-8; UTF-16 and UTF-32 are its old alternatives).
# A charset names a Python codec, and many codecs are not text encodings at all (bz2, zlib, base64,
# rot13): a tiny body would expand past the size limit, or the codec would fail in unexpected ways.
JSON_CHARSETS = frozenset({"utf-8", "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le"})


class UnsupportedCharset(exceptions.UnsupportedMediaType):
    default_code = "unsupported_charset"
    default_detail = "Unsupported charset {charset!r}: send JSON in UTF-8 (or UTF-16/UTF-32)."

    def __init__(self, charset: str):
        exceptions.APIException.__init__(self, self.default_detail.format(charset=charset[:40]))


def json_codec(media_type: str | None) -> str:
    """The codec a body of this Content-Type is decoded with: its charset if it is one of
    JSON_CHARSETS, UTF-8 when it names none; any other charset raises UnsupportedCharset."""
    charset = parse_header_parameters(media_type or "")[1].get("charset")
    if charset is None:
        return "utf-8"
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise UnsupportedCharset(charset) from None
    if codec not in JSON_CHARSETS:
        raise UnsupportedCharset(charset)
    return codec


class DecodedBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"
    default_detail = "Request body is too large."


class WebhookJSONParser(JSONParser):
    """DRF's strict JSON parser, plus: only what can be stored as the event's payload gets through.

    The body is stored as received (jsonb), so anything PostgreSQL would refuse (NUL, lone
    surrogates, infinite numbers, absurd nesting) is a 400 here rather than a 500 at insert time.
    Only UTF-8, UTF-16 and UTF-32 bodies are read (`json_codec`), and the body size limit holds for
    the decoded document too (as UTF-8, the way it is stored).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        codec = json_codec(media_type)
        try:
            text = stream.read().decode(codec)  # UnicodeDecodeError (a ValueError): not in that charset
            if codec != "utf-8" and len(text.encode("utf-8", "surrogatepass")) > stars_settings.WEBHOOK_MAX_BODY_BYTES:
                raise DecodedBodyTooLarge()
            return load_storable_json(text, strict=self.strict)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {str(exc)[:200]}") from None


def load_storable_json(text: str, *, strict: bool = True):
    """The JSON value of `text` if the webhook would store it, else ValueError naming what is wrong
    (not JSON, NaN or Infinity, a number out of range, NUL, lone surrogates, nesting deeper than
    MAX_JSON_DEPTH). Used by the webhook's parser and by `replay_updates`."""
    try:
        value = json.loads(
            text,
            parse_constant=json.strict_constant if strict else None,  # NaN, Infinity
            parse_float=_reject_non_finite,
        )
    except RecursionError:  # far deeper than MAX_JSON_DEPTH
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    _check_storable(value)
    return value


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front, the address
    the outermost trusted proxy saw (X-Forwarded-For entries further left are the client's own claims).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = stars_settings.TRUSTED_PROXY_COUNT
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
    return any(address in network for network in _networks(tuple(stars_settings.IP_RANGES)))


# An IPv6 client usually holds a whole /64 (and picks addresses in it at will): counted as one.
IPV6_CLIENT_PREFIX = 64


NO_BOT = "none"  # what failures at a path of no bot are counted under


def failure_key(ip: str, bot=None) -> str:
    """The cache key counting failures of `ip` at `bot`'s webhook (None: the default bot's; `NO_BOT`: a
    path of no bot): its IPv4 address, or its IPv6 /64 prefix. The default bot's keys are a one-bot
    deployment's."""
    if bot is None or bot == NO_BOT:
        prefix = "webhook-auth-failures:" + ("none:" if bot == NO_BOT else "")
    else:
        prefix = "webhook-auth-failures:" + ("" if bot.is_default else f"{bot.pk}:")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"{prefix}unknown"  # only REMOTE_ADDR or a proxy's entry gets here: not a client's choice
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.version == 6:
        return f"{prefix}{ipaddress.ip_network(f'{address}/{IPV6_CLIENT_PREFIX}', strict=False)}"
    return f"{prefix}{address}"


# While the cache is away the limiter counts nothing; that is said once a minute per process, not per request.
LIMITER_WARNING_INTERVAL = 60.0
_last_limiter_warning: float | None = None


def limiter_cache_failed(exc: Exception) -> None:
    """A cache error in the limiter: counted (`telegram_stars_auth_limiter_cache_errors`) every time,
    logged at most once per LIMITER_WARNING_INTERVAL. The request goes on unlimited (401, not 500);
    /readyz reports the cache as degraded meanwhile."""
    global _last_limiter_warning
    LIMITER_CACHE_ERRORS.inc()
    now = time.monotonic()
    if _last_limiter_warning is None or now - _last_limiter_warning >= LIMITER_WARNING_INTERVAL:
        _last_limiter_warning = now
        logger.warning("auth-failure limiter: cache unavailable (%s): failed secret checks are not limited "
                       "until it answers again", type(exc).__name__)


def auth_failures(ip: str, bot=None) -> int:
    """Failures counted for `ip` at `bot` in the current window (0 when the cache cannot be reached)."""
    try:
        return cache.get(failure_key(ip, bot), 0)
    except Exception as exc:  # a cache outage must not turn a 401 into a 500
        limiter_cache_failed(exc)
        return 0


def count_auth_failure(ip: str, bot=None) -> int:
    """Count one failure of `ip` at `bot` and return the count in the current window (a fixed window in
    Django's cache: CACHE_URL shares it across workers and servers; 0 when the cache is away)."""
    key = failure_key(ip, bot)
    window = stars_settings.WEBHOOK_AUTH_FAILURE_WINDOW
    try:
        cache.add(key, 0, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            return 1
    except Exception as exc:
        limiter_cache_failed(exc)
        return 0
