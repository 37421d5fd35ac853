"""The entitlements API for the bot's other services: what may this user use, and until when?

Authenticated by DRF tokens (`Authorization: Token <key>`) that staff create in the admin
(Entitlements > Service API tokens) for a service account; 401 without a valid token. Read-only.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from .selectors import current_access

MAX_USER_ID = 2**63 - 1


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


ErrorSerializer = inline_serializer(
    "EntitlementsApiError", {"ok": serializers.BooleanField(), "error": serializers.CharField(),
                             "detail": serializers.CharField(required=False)},
)
ERRORS = {
    status.HTTP_400_BAD_REQUEST: OpenApiResponse(ErrorSerializer, description="user_id out of range"),
    status.HTTP_401_UNAUTHORIZED: OpenApiResponse(ErrorSerializer, description="no or wrong token"),
}


class EntitlementsApiView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    def bad_user_id(self, user_id: int) -> Response | None:
        if not 1 <= user_id <= MAX_USER_ID:
            return Response({"ok": False, "error": "invalid_user_id", "detail": "user_id must be 1..2^63-1."},
                            status=status.HTTP_400_BAD_REQUEST)
        return None


class UserEntitlementsView(EntitlementsApiView):
    """GET /api/entitlements/<user_id>/"""

    @extend_schema(
        operation_id="entitlements_list",
        summary="Active entitlements of a user, with expiry",
        responses={200: UserEntitlementsSerializer, **ERRORS},
        tags=["entitlements"],
    )
    def get(self, request, user_id: int):
        if error := self.bad_user_id(user_id):
            return error
        access = current_access(user_id)
        return Response(UserEntitlementsSerializer({"user_id": user_id, "entitlements": access}).data)


class EntitlementCheckView(EntitlementsApiView):
    """GET /api/entitlements/<user_id>/<type>/"""

    @extend_schema(
        operation_id="entitlements_check",
        summary="Whether a user may use one entitlement type now, and until when",
        responses={200: EntitlementCheckSerializer, **ERRORS},
        tags=["entitlements"],
    )
    def get(self, request, user_id: int, entitlement_type: str):
        if error := self.bad_user_id(user_id):
            return error
        access = current_access(user_id, entitlement_type=entitlement_type)
        return Response(EntitlementCheckSerializer({
            "user_id": user_id,
            "entitlement_type": entitlement_type,
            "active": bool(access),
            "expires_at": access[0].expires_at if access else None,
        }).data)
