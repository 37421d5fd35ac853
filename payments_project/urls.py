from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("telegram_payments.urls")),
]

if settings.BENCH_ENDPOINTS:  # baselines for bench/run.py; never enabled in production
    urlpatterns.append(path("", include("bench.urls")))
