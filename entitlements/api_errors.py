"""The JSON error body every API and webhook answer shares, `{"ok": false, "error": ..., "detail": ...}`:
the base view that answers it (its own exception handler, renderer and parser, so the host project's
REST_FRAMEWORK settings are neither needed nor changed), its OpenAPI description, and the 404 for
URLs under /api/ and /webhook/ that no route matches."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# Errors that mean "try again later" (the database is away); everything else is permanent.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

# URLs that clients call by program: an unmatched one answers JSON, not Django's HTML page.
JSON_PATH_PREFIXES = ("/api/", "/webhook/")


@extend_schema_field({"type": "boolean", "enum": [False]})
class FalseField(serializers.BooleanField):
    """`ok` of an error body: always false."""


@extend_schema_field({"type": "boolean", "enum": [True]})
class TrueField(serializers.BooleanField):
    """`ok` of a success body: always true."""


class ErrorSerializer(serializers.Serializer):
    ok = FalseField()
    error = serializers.CharField(help_text="Machine-readable reason, e.g. unauthorized, not_found.")
    detail = serializers.CharField(required=False, help_text="For people; may change.")


def error_response(description: str, error: str, *, detail: str = "", serializer=ErrorSerializer,
                   body: dict | None = None):
    """An OpenAPI response: an error body described by `description`, with an example whose reason is
    `error` (and `detail`, else the description)."""
    example = body or {"ok": False, "error": error, "detail": detail or description}
    return OpenApiResponse(serializer, description=description,
                           examples=[OpenApiExample(error, value=example, response_only=True)])


def not_found(request, exception):
    """handler404: JSON under JSON_PATH_PREFIXES, Django's page elsewhere (admin, docs)."""
    if request.path.startswith(JSON_PATH_PREFIXES):
        return JsonResponse({"ok": False, "error": "not_found", "detail": "No such URL."}, status=404)
    return defaults.page_not_found(request, exception)


def json_exception_handler(exc, context):
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


class JsonApiView(APIView):
    """Base of every API view of both apps: JSON in and out, no throttling, errors as
    `json_exception_handler` writes them, whatever the host's REST_FRAMEWORK settings say (each view
    names its own authentication and permissions)."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    # Telegram and the bot's services are not to be throttled or versioned by the host's defaults
    # (a host's AnonRateThrottle would answer Telegram 429).
    throttle_classes: list = []
    versioning_class = None

    def get_exception_handler(self):
        return json_exception_handler
