"""What every webhook view shares: the secret header, the body limit and JSON error bodies."""

import hmac
import logging
import time

from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from entitlements.api_errors import JsonApiView
from telegram_payments.conf import stars_settings
from telegram_payments.logformat import log_webhook
from telegram_payments.registry import bots
from telegram_payments.webhooks.guards import (
    NO_BOT,
    ForbiddenSource,
    TooManyAuthFailures,
    WebhookJSONParser,
    auth_failures,
    client_ip,
    count_auth_failure,
    ip_allowed,
)

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


class LengthRequired(exceptions.APIException):
    """A chunked body: Django reads a body by its Content-Length, so a chunked one would read as
    empty (and be answered "field required"); it is refused for what it is instead."""

    status_code = status.HTTP_411_LENGTH_REQUIRED
    default_code = "length_required"
    default_detail = "Chunked request bodies are not read: send the body with a Content-Length header."


def is_chunked(request) -> bool:
    """Whether the body comes with Transfer-Encoding: chunked (no Content-Length to read it by)."""
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def secret_matches(bot, given: str) -> bool:
    """Whether `given` is `bot`'s webhook secret (only that bot's: a bot is never looked up by its secret)."""
    expected = bot.webhook_secret()
    # compare_digest takes the same time whatever the prefix that matches.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class UnknownBotPath(exceptions.NotFound):
    default_code = "not_found"
    default_detail = "Not found."


class JSONOnly(DefaultContentNegotiation):
    """Webhooks answer JSON whatever the Accept header says (Telegram sends none): no renderer
    negotiation, a measurable part of a small request's work. Parsers are chosen as usual."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class WebhookView(JsonApiView):
    """Base of the endpoints Telegram (or its relay) calls: authenticated by the secret header only."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [WebhookJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly

    bot = None  # the Bot this request is for: the default bot's URLs, or the bot whose path it names

    def initial(self, request, *args, **kwargs):
        if stars_settings.IP_ALLOWLIST and not ip_allowed(client_ip(request)):
            raise ForbiddenSource()
        bot_path = kwargs.get("bot_path")
        self.bot = bots.default() if bot_path is None else bots.by_path(bot_path)
        # Failed secret checks are counted per bot and client address; once over the limit, that address
        # gets 429 instead of 401 (or 404, for a path of no bot). The right secret is always served, so a
        # flood of wrong ones from an address Telegram shares (a proxy, a NAT) cannot lock payments out;
        # guessing is made hopeless by the secret's length instead (settings: 32+ characters without DEBUG).
        if self.bot is None or not secret_matches(self.bot, request.META.get(SECRET_HEADER, "")):
            ip, counted_as = client_ip(request), self.bot or NO_BOT
            if auth_failures(ip, counted_as) >= stars_settings.WEBHOOK_AUTH_FAILURE_LIMIT or (
                count_auth_failure(ip, counted_as) > stars_settings.WEBHOOK_AUTH_FAILURE_LIMIT
            ):
                raise TooManyAuthFailures(wait=stars_settings.WEBHOOK_AUTH_FAILURE_WINDOW)
            raise UnknownBotPath() if self.bot is None else Unauthorized()
        if is_chunked(request):
            raise LengthRequired()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = stars_settings.WEBHOOK_MAX_BODY_BYTES
        if declared > limit or len(request.body) > limit:
            raise BodyTooLarge()
        super().initial(request, *args, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        started = time.monotonic()
        response = super().dispatch(request, *args, **kwargs)
        log_webhook(self.request, response, started, bot=self.bot)  # one structured line per webhook
        return response


def outcome_response(outcome) -> Response:
    response = Response(outcome.answer())
    response.outcome = outcome  # for the webhook log line
    return response
