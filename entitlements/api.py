"""The entitlements API for the bot's other services: what may this user use, and until when?

Authenticated by DRF tokens (`Authorization: Token <key>`) that staff create in the admin
(Entitlements > Service API tokens) for a service account; 401 without a valid token. Read-only.
"""

import re

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from entitlements.api_errors import JsonApiView, error_response
from entitlements.selectors import current_access

MAX_USER_ID = 2**63 - 1
ENTITLEMENT_TYPE_PATTERN = r"^[-a-zA-Z0-9_]+$"
ENTITLEMENT_TYPE_MAX_LENGTH = 100
_DIGITS = re.compile(r"[0-9]{1,19}")
_ENTITLEMENT_TYPE = re.compile(ENTITLEMENT_TYPE_PATTERN.replace("$", r"\Z"))
SCOPE_PATTERN = r"^[-a-zA-Z0-9_:]{0,64}$"
_SCOPE = re.compile(SCOPE_PATTERN.replace("$", r"\Z"))


class EntitlementSerializer(serializers.Serializer):
    entitlement_type = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: never expires.")


class UserEntitlementsSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    entitlements = EntitlementSerializer(many=True, help_text="Active now, one per type.")


class EntitlementCheckSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    entitlement_type = serializers.CharField()
    active = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: not active, or never expires.")


USER_ID_PARAMETER = OpenApiParameter(
    "user_id", {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_USER_ID},
    OpenApiParameter.PATH, description="Telegram user id, 1 to 2^63-1 (decimal digits).",
)
ENTITLEMENT_TYPE_PARAMETER = OpenApiParameter(
    "entitlement_type",
    {"type": "string", "pattern": ENTITLEMENT_TYPE_PATTERN, "maxLength": ENTITLEMENT_TYPE_MAX_LENGTH},
    OpenApiParameter.PATH, description="An entitlement type, e.g. premium_monthly (letters, digits, - and _).",
)
SCOPE_PARAMETER = OpenApiParameter(
    "scope", {"type": "string", "pattern": SCOPE_PATTERN, "maxLength": 64}, OpenApiParameter.QUERY,
    description="Whose access: empty (the default) for the deployment's default bot, `bot:<telegram id>` for "
    "another bot, `shared:<name>` for products several bots share.",
)
ERRORS = {
    status.HTTP_400_BAD_REQUEST: error_response(
        "user_id is not an integer in 1..2^63-1 (invalid_user_id), entitlement_type is not a type name "
        "(invalid_entitlement_type), or scope is not a scope name (invalid_scope).", "invalid_user_id",
        detail="user_id must be an integer in 1..2^63-1."),
    status.HTTP_401_UNAUTHORIZED: error_response(
        "No token, or a wrong or deactivated one (not_authenticated, authentication_failed).",
        "not_authenticated", detail="Authentication credentials were not provided."),
    status.HTTP_404_NOT_FOUND: error_response("No such URL (e.g. a user_id containing '/').", "not_found",
                                             detail="No such URL."),
    status.HTTP_406_NOT_ACCEPTABLE: error_response("The Accept header excludes application/json.", "not_acceptable"),
    status.HTTP_503_SERVICE_UNAVAILABLE: error_response("Database unavailable; retry later.",
                                                        "database_unavailable"),
}


def _bad_request(error: str, detail: str) -> Response:
    return Response({"ok": False, "error": error, "detail": detail}, status=status.HTTP_400_BAD_REQUEST)


class EntitlementsApiView(JsonApiView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def parse_user_id(self, raw: str) -> int | None:
        """The user id in the URL, or None unless it is 1..2^63-1 in ASCII digits."""
        if not _DIGITS.fullmatch(raw):
            return None
        user_id = int(raw)
        return user_id if 1 <= user_id <= MAX_USER_ID else None

    def invalid_user_id(self) -> Response:
        return _bad_request("invalid_user_id", "user_id must be an integer in 1..2^63-1.")

    def scope(self, request) -> str | None:
        """The `?scope=` asked for ("" without one), or None if it is not a scope name, or the query
        string holds anything else (a misspelt `scope` must not silently read the default scope)."""
        if set(request.query_params) - {"scope"} or len(request.query_params.getlist("scope")) > 1:
            return None
        scope = request.query_params.get("scope", "")
        return scope if _SCOPE.match(scope) else None

    def invalid_scope(self) -> Response:
        return _bad_request("invalid_scope", "scope must be at most 64 letters, digits, -, _ or : (the only "
                            "query parameter, given once).")


class UserEntitlementsView(EntitlementsApiView):
    """GET /api/entitlements/<user_id>/"""

    @extend_schema(
        operation_id="entitlements_list",
        summary="Active entitlements of a user, with expiry",
        description="The entitlement types the user may use now, one entry per type, each with when access "
        "ends (stacked purchases included; null: never). An unknown user has none.",
        parameters=[USER_ID_PARAMETER, SCOPE_PARAMETER],
        responses={200: UserEntitlementsSerializer, **ERRORS},
        tags=["entitlements"],
    )
    def get(self, request, user_id: str):
        if (user_id := self.parse_user_id(user_id)) is None:
            return self.invalid_user_id()
        if (scope := self.scope(request)) is None:
            return self.invalid_scope()
        access = current_access(user_id, scope=scope)
        return Response(UserEntitlementsSerializer({"user_id": user_id, "entitlements": access}).data)


class EntitlementCheckView(EntitlementsApiView):
    """GET /api/entitlements/<user_id>/<type>/"""

    @extend_schema(
        operation_id="entitlements_check",
        summary="Whether a user may use one entitlement type now, and until when",
        description="active: whether the user may use this entitlement type now; expires_at: when that access "
        "ends (stacked purchases included), null if it never does or if not active.",
        parameters=[USER_ID_PARAMETER, ENTITLEMENT_TYPE_PARAMETER, SCOPE_PARAMETER],
        responses={200: EntitlementCheckSerializer, **ERRORS},
        tags=["entitlements"],
    )
    def get(self, request, user_id: str, entitlement_type: str):
        if (user_id := self.parse_user_id(user_id)) is None:
            return self.invalid_user_id()
        if len(entitlement_type) > ENTITLEMENT_TYPE_MAX_LENGTH or not _ENTITLEMENT_TYPE.match(entitlement_type):
            return _bad_request("invalid_entitlement_type",
                                "entitlement_type must be 1 to 100 letters, digits, - or _.")
        if (scope := self.scope(request)) is None:
            return self.invalid_scope()
        access = current_access(user_id, entitlement_type=entitlement_type, scope=scope)
        return Response(EntitlementCheckSerializer({
            "user_id": user_id,
            "entitlement_type": entitlement_type,
            "active": bool(access),
            "expires_at": access[0].expires_at if access else None,
        }).data)
