from django.urls import path

from entitlements import api

# Any path segment is routed to the view, which answers 400 (JSON) for one that is not a valid id or
# type: a converter that did not match would leave the request to the site-wide 404.
urlpatterns = [
    path("<str:user_id>/", api.UserEntitlementsView.as_view(), name="entitlements-list"),
    path("<str:user_id>/<str:entitlement_type>/", api.EntitlementCheckView.as_view(), name="entitlements-check"),
]
