"""Health checks for load balancers and orchestrators.

* `GET /healthz`: the process is alive and answering. Touches nothing else (no database), so a
  database outage does not make an orchestrator restart every app server.
* `GET /readyz`: this server can do its work: the database answers and every migration in the code
  is applied. 503 otherwise, so a load balancer sends no webhook to a server that would fail it.
  The cache (CACHE_URL: the failed-secret limiter's counts) unreachable is `"status": "degraded"`
  with 200: payments go on, but wrong secrets are not limited until it answers again.

Both (and /metrics) are answered by a middleware placed before Django's host check, because load balancers
usually probe by IP address (`Host: 10.0.0.5:8000`), which ALLOWED_HOSTS would reject with a 400.
They reveal nothing but "ok" or what is wrong, in JSON.
"""

import logging

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.urls import resolve
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Once every migration is seen applied, that stays true for the life of this process (new
# migrations arrive only with new code, i.e. a new process), so the loader runs once, not per probe.
_migrations_seen_applied = False


@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _unapplied_migrations() -> int:
    global _migrations_seen_applied
    if _migrations_seen_applied:
        return 0
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        _migrations_seen_applied = True
    return len(plan)


@require_safe
def readyz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except DatabaseError as exc:
        logger.warning("readyz: database unavailable: %s", type(exc).__name__)
        checks["database"] = "unavailable"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    try:
        unapplied = _unapplied_migrations()
    except DatabaseError as exc:
        logger.warning("readyz: cannot read migrations: %s", type(exc).__name__)
        checks["migrations"] = "unknown"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    if unapplied:
        checks["migrations"] = f"{unapplied} unapplied"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    checks["migrations"] = "ok"
    checks["cache"] = _cache_check()
    return JsonResponse({"status": "ok" if checks["cache"] == "ok" else "degraded", "checks": checks})


def _cache_check() -> str:
    """"ok" when the shared cache answers a read, else "unavailable" (the limiter is not limiting)."""
    try:
        cache.get("readyz-probe")
    except Exception as exc:  # any backend error: Redis away, refused, timed out
        logger.warning("readyz: cache unavailable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _metrics(request):
    from telegram_payments.metrics import metrics_view  # has its own access control (token or network)

    return metrics_view(request)


PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": _metrics}


class HealthCheckMiddleware:
    """Answers GET/HEAD /healthz, /readyz and /metrics before anything looks at the Host header.

    Load balancers and Prometheus reach each app server by its address, not the public host name.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info.rstrip("/") or "/"
        probe = PROBES.get(path)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        request.resolver_match = resolve(path)  # names the view in the latency metric
        return probe(request)
