"""The JSON error body every API and webhook answer shares, `{"ok": false, "error": ..., "detail": ...}`:
its OpenAPI description, and the 404 for URLs under /api/ and /webhook/ that no route matches."""

from django.http import JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import serializers

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
