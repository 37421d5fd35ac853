from django.urls import path

from . import api

urlpatterns = [
    path("<int:user_id>/", api.UserEntitlementsView.as_view(), name="entitlements-list"),
    path("<int:user_id>/<slug:entitlement_type>/", api.EntitlementCheckView.as_view(), name="entitlements-check"),
]
