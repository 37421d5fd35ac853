"""Baselines for the benchmark, served by the same process as the webhooks (BENCH_ENDPOINTS=1 only).

* `GET /bench/ping`: a trivial DRF view, the cost of HTTP + Django + DRF alone.
* `POST /bench/sql-insert`: the durability floor. The same request handling as a webhook (secret
  header, body limit, JSON parsing), then one raw-SQL insert of the body in its own transaction:
  the least a webhook that stores what it received must do.
"""

from django.db import connection, transaction
from rest_framework.response import Response
from rest_framework.utils import json
from rest_framework.views import APIView

from telegram_payments.webhooks.base import WebhookView


class PingView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"ok": True})


class SqlInsertView(WebhookView):
    def post(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_floor (body) VALUES (%s) RETURNING id", [json.dumps(request.data)])
            (row_id,) = cursor.fetchone()
        return Response({"ok": True, "id": row_id})
