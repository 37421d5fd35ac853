from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from prometheus_client import disable_created_metrics
from rest_framework.authtoken.models import TokenProxy

from payments_project import health, home
from telegram_payments import metrics
from telegram_payments.admin.mixins import check_admin_input

# This project is the Stars service, so its admin is named for it (an app never renames the site).
admin.site.site_header = "Stars payments"
admin.site.site_title = "Stars payments"
admin.site.index_title = "Support desk"
admin.site.site_url = "/"
# Its index leads with the support desk (At a glance, failing events), as the app's own index page does.
admin.site.index_template = "admin/telegram_payments/index.html"
admin.site.empty_value_display = "—"  # an empty value reads the same on every page, the apps' included
# No page of this admin takes a NUL in a search, filter or form (the apps' pages refuse it anyway).
check_admin_input(admin.site)
# DRF's own token page lists every full key; the app's "Service tokens" page shows a key once.
admin.site.unregister(TokenProxy)

disable_created_metrics()  # no `*_created` series beside every counter: of no use to this service's alerts

urlpatterns = [
    path("", home.home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("telegram_payments.urls")),
    path("api/entitlements/", include("entitlements.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (?script): no inline script, for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # Answered by HealthCheckMiddleware before the host check; listed here so they resolve anyway.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

# Unmatched /api/ and /webhook/ URLs answer JSON like the rest of the API.
handler404 = "entitlements.api_errors.not_found"

if settings.BENCH_ENDPOINTS:  # baselines for bench/run.py; never enabled in production
    urlpatterns.append(path("", include("bench.urls")))
