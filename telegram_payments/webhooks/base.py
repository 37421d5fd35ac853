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
from telegram_payments.webhooks.guards import (
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


def secret_matches(given: str) -> bool:
    expected = stars_settings.WEBHOOK_SECRET
    # compare_digest takes the same time whatever the prefix that matches.
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


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

    def initial(self, request, *args, **kwargs):
        if stars_settings.IP_ALLOWLIST and not ip_allowed(client_ip(request)):
            raise ForbiddenSource()
        # Failed secret checks are counted per client address; once over the limit, that address gets
        # 429 instead of 401. The right secret is always served, so a flood of wrong ones from an
        # address Telegram shares (a proxy, a NAT) cannot lock payments out; guessing is made
        # hopeless by the secret's length instead (settings: 32+ characters without DEBUG).
        if not secret_matches(request.META.get(SECRET_HEADER, "")):
            ip = client_ip(request)
            if auth_failures(ip) >= stars_settings.WEBHOOK_AUTH_FAILURE_LIMIT or (
                count_auth_failure(ip) > stars_settings.WEBHOOK_AUTH_FAILURE_LIMIT
            ):
                raise TooManyAuthFailures(wait=stars_settings.WEBHOOK_AUTH_FAILURE_WINDOW)
            raise Unauthorized()
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
        log_webhook(self.request, response, started)  # one structured line per webhook
        return response


def outcome_response(outcome) -> Response:
    response = Response(outcome.answer())
    response.outcome = outcome  # for the webhook log line
    return response
