"""Baselines for the benchmark, served by the same process as the webhooks (BENCH_ENDPOINTS=1 only).

* `GET /bench/ping`: a trivial DRF view, the cost of HTTP + Django + DRF alone.
* `POST /bench/sql-insert`: the durability floor. The same request handling as a webhook (secret
  header, body limit, JSON parsing), then one raw-SQL insert of the body in its own transaction:
  the least a webhook that stores what it received must do.
* `POST /bench/naive-payment`: the webhook a developer would typically write instead of this service
  (the relay format): the same request handling and serializer, then the event and a 30-day grant
  created through the ORM in one transaction, a unique violation answered as a duplicate. No lock, no
  catalog, no stacking, no refund check: the peer the relay route is compared with, not a payment path.
"""

from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.utils import json
from rest_framework.views import APIView

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_PAYMENT, EventStatus, StripeEvent
from telegram_payments.webhooks.base import WebhookView
from telegram_payments.webhooks.serializers import SuccessfulPaymentRelaySerializer


class PingView(APIView):
    """GET (or POST, ignoring the body) /bench/ping: a trivial DRF view."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": True})


class SqlInsertView(WebhookView):
    def post(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_floor (body) VALUES (%s) RETURNING id", [json.dumps(request.data)])
            (row_id,) = cursor.fetchone()
        return Response({"ok": True, "id": row_id})


class NaivePaymentView(WebhookView):
    def post(self, request):
        serializer = SuccessfulPaymentRelaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event_id = f"tg_stars:payment:{data['telegram_payment_charge_id']}"
        now = timezone.now()
        try:
            with transaction.atomic():
                StripeEvent.objects.create(
                    event_id=event_id, event_type=EVENT_PAYMENT, customer_id=str(data["user_id"]),
                    amount_cents=data["total_amount"], currency=data["currency"], source="relay",
                    telegram_payment_charge_id=data["telegram_payment_charge_id"],
                    entitlement_type=data["entitlement_type"], status=EventStatus.PROCESSED, attempts=1,
                    processed_at=now, payload=request.data,
                )
                Entitlement.objects.create(
                    user_id=data["user_id"], entitlement_type=data["entitlement_type"], event_id=event_id,
                    granted_at=now, starts_at=now, expires_at=now + timedelta(days=30),
                )
        except IntegrityError:
            return Response({"ok": True, "status": "duplicate", "event_id": event_id})
        return Response({"ok": True, "status": "processed", "event_id": event_id})
