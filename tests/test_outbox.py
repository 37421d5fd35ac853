"""Outbox delivery of grants and revokes to another service, against a real HTTP receiver on loopback."""

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from entitlements import outbox
from entitlements.models import DeliveryAttempt, Entitlement, OutboxMessage
from entitlements.services import grant_entitlement, revoke_entitlement
from telegram_payments.devtools import botapi

SECRET = "outbox-signing-secret-0123456789"
PAY_URL = "/webhook/telegram/successful_payment"
REFUND_URL = "/webhook/telegram/refund"


class Receiver:
    """Another service's endpoint: checks the signature, fails the first `fail_first` requests
    (per message if `per_message`), and records what it received and what was in flight at once."""

    def __init__(self, *, fail_first=0, per_message=False, delay=0.0, port=0):
        self.fail_first = fail_first
        self.per_message = per_message
        self.delay = delay
        self.requests = []  # (message_id, user_id, status answered)
        self.bad_signatures = 0
        self.overlaps = []  # a message or a user seen twice in flight at once
        self._in_flight = set()
        self._seen = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = botapi.serve_in_thread(self.server)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/entitlements"

    def handle(self, request, body):
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Signature", ""), expected):
            with self._lock:
                self.bad_signatures += 1
            return self._answer(request, 401)
        message = json.loads(body)
        keys = {("message", message["message_id"]), ("user", message["user_id"])}
        with self._lock:
            if keys & self._in_flight:
                self.overlaps.append(keys & self._in_flight)
            self._in_flight |= keys
            counter_key = message["message_id"] if self.per_message else "all"
            self._seen[counter_key] = self._seen.get(counter_key, 0) + 1
            status = 503 if self._seen[counter_key] <= self.fail_first else 200
        if self.delay:
            time.sleep(self.delay)  # widens the window in which two workers could collide
        with self._lock:
            self._in_flight -= keys
            self.requests.append((message["message_id"], message["user_id"], status, message))
        self._answer(request, status)

    def _answer(self, request, status):
        request.send_response(status)
        request.send_header("Content-Length", "0")
        request.end_headers()

    def delivered(self):
        return [r for r in self.requests if r[2] == 200]

    def stop(self):
        botapi.stop(self.server, self.thread)


@pytest.fixture
def receiver_factory(stars):
    receivers = []

    def start(**kwargs):
        receiver = Receiver(**kwargs)
        receivers.append(receiver)
        stars.ENTITLEMENTS_SERVICE_URL = receiver.url
        stars.ENTITLEMENTS_SERVICE_SECRET = SECRET
        return receiver

    yield start
    for receiver in receivers:
        receiver.stop()


def later(hours=2):
    """A moment after every backoff of these tests has elapsed."""
    return timezone.now() + timedelta(hours=hours)


@pytest.mark.django_db
def test_no_outbox_rows_when_no_service_url_is_set(stars):
    stars.ENTITLEMENTS_SERVICE_URL = ""
    grant = grant_entitlement(user_id=1, entitlement_type="premium_monthly", event_id="e1", duration=timedelta(days=1))
    revoke_entitlement(entitlement=grant, reason="refund")
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_grant_and_revoke_write_one_message_each_describing_the_change(receiver_factory):
    receiver_factory()
    now = timezone.now()
    grant = grant_entitlement(user_id=5, entitlement_type="premium_monthly", event_id="tg_stars:payment:c1",
                              duration=timedelta(days=30), now=now)
    revoke_entitlement(entitlement=grant, reason="refund (Relay endpoint)", now=now + timedelta(hours=1))
    granted, revoked = OutboxMessage.objects.order_by("id")
    assert (granted.kind, revoked.kind) == ("entitlement.granted", "entitlement.revoked")
    assert granted.payload == {
        "message_id": str(granted.message_id), "type": "entitlement.granted", "occurred_at": now.isoformat(),
        "user_id": 5, "entitlement_type": "premium_monthly", "scope": "",
        "grant": {"event_id": "tg_stars:payment:c1", "starts_at": now.isoformat(),
                  "expires_at": grant.expires_at.isoformat(), "revoked_at": None, "revoke_reason": ""},
        "access": {"active": True, "expires_at": grant.expires_at.isoformat()},
    }
    assert revoked.payload["grant"]["revoke_reason"] == "refund (Relay endpoint)"
    assert revoked.payload["access"] == {"active": False, "expires_at": None}


@pytest.mark.django_db
def test_the_message_is_written_in_the_same_transaction_as_the_change(receiver_factory):
    receiver_factory()
    with pytest.raises(RuntimeError), transaction.atomic():
        grant_entitlement(user_id=5, entitlement_type="premium_monthly", event_id="e1", duration=timedelta(days=1))
        assert OutboxMessage.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the grant")
    assert Entitlement.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_payment_and_refund_webhooks_reach_the_other_service(receiver_factory, post_json, catalog):
    receiver = receiver_factory()
    body = {"user_id": "77", "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "ob-1",
            "total_amount": 250, "currency": "XTR"}
    post_json(PAY_URL, body)
    post_json(PAY_URL, body)  # a duplicate delivery grants nothing, so sends nothing
    post_json(REFUND_URL, {"user_id": "77", "telegram_payment_charge_id": "ob-1"})
    call_command("deliver_outbox", "--once", stdout=None)
    kinds = [(r[3]["type"], r[3]["user_id"], r[3]["access"]["active"]) for r in receiver.delivered()]
    assert kinds == [("entitlement.granted", 77, True), ("entitlement.revoked", 77, False)]
    assert receiver.bad_signatures == 0


@pytest.mark.django_db
def test_receiver_down_at_first_retries_with_backoff_and_records_every_attempt(receiver_factory):
    receiver = receiver_factory(fail_first=2)
    grant = grant_entitlement(user_id=9, entitlement_type="premium_monthly", event_id="e1", duration=timedelta(days=1))
    revoke_entitlement(entitlement=grant, reason="refund")
    first, second = OutboxMessage.objects.order_by("id")

    assert outbox.deliver_due() == (0, 1)  # the first message fails; the second waits behind it
    first.refresh_from_db()
    (attempt,) = first.attempts.all()
    assert (attempt.status_code, attempt.error, attempt.delivered) == (503, "HTTP 503", False)
    assert first.next_attempt_at - attempt.attempted_at == timedelta(seconds=5)
    assert outbox.deliver_due() == (0, 0)  # not due yet: nothing sent

    assert outbox.deliver_one(due_before=later()).delivered is False
    first.refresh_from_db()
    assert first.next_attempt_at - first.attempts.order_by("-id")[0].attempted_at == timedelta(seconds=10)

    assert outbox.deliver_due(due_before=later()) == (2, 0)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivered_at and second.delivered_at and first.delivered_at <= second.delivered_at
    assert [a.status_code for a in first.attempts.order_by("id")] == [503, 503, 200]
    assert first.attempt_count == 3 and first.last_error == ""
    assert [a.status_code for a in second.attempts.all()] == [200]
    assert all(a.duration_ms >= 0 for a in DeliveryAttempt.objects.all())
    # Three tries of the first message, then the second: in order, each delivered once.
    assert [(r[0], r[2]) for r in receiver.requests] == [
        (str(first.message_id), 503), (str(first.message_id), 503), (str(first.message_id), 200),
        (str(second.message_id), 200)]
    assert receiver.bad_signatures == 0
    assert outbox.deliver_due(due_before=later(100)) == (0, 0)  # nothing is sent twice


@pytest.mark.django_db
def test_a_users_failing_message_holds_back_only_that_users_later_messages(receiver_factory):
    receiver = receiver_factory()
    grant_entitlement(user_id=1, entitlement_type="a", event_id="u1-a", duration=timedelta(days=1))
    grant_entitlement(user_id=2, entitlement_type="a", event_id="u2-a", duration=timedelta(days=1))
    grant_entitlement(user_id=1, entitlement_type="b", event_id="u1-b", duration=timedelta(days=1))
    receiver.fail_first = 1  # the very first request (user 1's first message) fails
    assert outbox.deliver_due() == (1, 1)
    assert [(r[1], r[3]["entitlement_type"], r[2]) for r in receiver.requests] == [(1, "a", 503), (2, "a", 200)]
    assert outbox.deliver_due(due_before=later()) == (2, 0)
    assert [(r[1], r[3]["entitlement_type"]) for r in receiver.delivered()] == [(2, "a"), (1, "a"), (1, "b")]


@pytest.mark.django_db
def test_no_answer_at_all_is_recorded_as_an_error_without_status(receiver_factory, stars):
    receiver_factory()
    stars.ENTITLEMENTS_SERVICE_URL = "http://127.0.0.1:9/nothing-listens"
    grant_entitlement(user_id=3, entitlement_type="a", event_id="e1", duration=timedelta(days=1))
    result = outbox.deliver_one()
    assert result.delivered is False and result.status_code is None
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert "refused" in attempt.error.lower()
    assert OutboxMessage.objects.get().last_error == attempt.error


@pytest.mark.django_db
def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(receiver_factory, stars):
    receiver = receiver_factory()
    stars.ENTITLEMENTS_SERVICE_SECRET = "not-the-receivers-secret"
    grant_entitlement(user_id=3, entitlement_type="a", event_id="e1", duration=timedelta(days=1))
    assert outbox.deliver_due() == (0, 1)
    assert receiver.bad_signatures == 1
    assert OutboxMessage.objects.get().delivered_at is None


@pytest.mark.django_db
def test_command_once_reports_and_refuses_without_url(receiver_factory, stars, capsys):
    receiver = receiver_factory()
    grant_entitlement(user_id=3, entitlement_type="a", event_id="e1", duration=timedelta(days=1))
    call_command("deliver_outbox", "--once")
    assert "delivered 1, failed 0" in capsys.readouterr().out
    assert len(receiver.delivered()) == 1
    stars.ENTITLEMENTS_SERVICE_URL = ""
    with pytest.raises(CommandError, match="ENTITLEMENTS_SERVICE_URL"):
        call_command("deliver_outbox", "--once")


@pytest.mark.django_db
def test_admin_shows_messages_and_attempts_read_only_without_the_secret(receiver_factory, admin_client):
    receiver_factory(fail_first=1)
    grant_entitlement(user_id=3, entitlement_type="a", event_id="e1", duration=timedelta(days=1))
    outbox.deliver_due(due_before=later())
    message = OutboxMessage.objects.get()
    listing = admin_client.get("/admin/entitlements/outboxmessage/?delivered=yes")
    assert listing.status_code == 200 and str(message.user_id) in listing.content.decode()
    page = admin_client.get(f"/admin/entitlements/outboxmessage/{message.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "HTTP 503" in html and "503" in html and "200" in html
    assert SECRET not in html
    assert admin_client.get("/admin/entitlements/outboxmessage/add/").status_code == 403
    assert admin_client.post(f"/admin/entitlements/outboxmessage/{message.pk}/delete/").status_code == 403


def test_backoff_doubles_up_to_the_cap():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert outbox.backoff(30).total_seconds() == 3600
    assert outbox.backoff(5000).total_seconds() == 3600  # a message failing for weeks (no OverflowError)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_deliver_each_message_exactly_once_in_order_per_user(receiver_factory):
    # Every message fails its first attempt, so each is claimed at least twice, by either worker.
    receiver = receiver_factory(fail_first=1, per_message=True, delay=0.02)
    users = [101, 102, 103, 104, 105, 106]
    for round_ in range(4):
        for user in users:
            grant_entitlement(user_id=user, entitlement_type=f"t{round_}", event_id=f"{user}-{round_}",
                              duration=timedelta(days=1))
    expected_order = {user: list(OutboxMessage.objects.filter(user_id=user).order_by("id")
                                 .values_list("message_id", flat=True)) for user in users}
    errors = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            while OutboxMessage.objects.filter(delivered_at__isnull=True).exists():
                # backoff_base tiny: a failed message is due again almost at once
                if outbox.deliver_one(backoff_base=0.001, backoff_max=0.001) is None:
                    time.sleep(0.005)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    delivered = receiver.delivered()
    assert sorted(r[0] for r in delivered) == sorted(str(m) for ids in expected_order.values() for m in ids)
    assert len(delivered) == len({r[0] for r in delivered}) == 24  # each exactly once
    assert receiver.overlaps == []  # never one message, nor two of one user, in flight at once
    for user, ids in expected_order.items():
        assert [r[0] for r in delivered if r[1] == user] == [str(m) for m in ids]
    assert DeliveryAttempt.objects.filter(delivered=True).count() == 24
    assert DeliveryAttempt.objects.filter(delivered=False).count() == 24
    assert not OutboxMessage.objects.filter(attempt_count__lt=2).exists()


def test_settings_refuse_a_service_url_without_a_secret():
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50, "TELEGRAM_WEBHOOK_SECRET": "s" * 32,
           "ENTITLEMENTS_SERVICE_URL": "https://entitlements.example.com/hook", "ENTITLEMENTS_SERVICE_SECRET": "",
           "DJANGO_SETTINGS_MODULE": "payments_project.settings"}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode != 0
    assert '(telegram_stars.E005) TELEGRAM_STARS["ENTITLEMENTS_SERVICE_SECRET"] must be set' in result.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_delivers_everything_once_after_the_receiver_was_down_then_stops_on_sigterm(stars, tmp_path):
    """The issue's "done when": the receiver is down for a while; once it is up, the other service
    sees each grant and revoke exactly once, in order. `deliver_outbox` runs as a real process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/entitlements"
    stars.ENTITLEMENTS_SERVICE_URL = url
    stars.ENTITLEMENTS_SERVICE_SECRET = SECRET
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "ENTITLEMENTS_SERVICE_URL": url,
           "ENTITLEMENTS_SERVICE_SECRET": SECRET,
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    output_file = open(tmp_path / "worker.log", "w+")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "deliver_outbox", "--poll-interval", "0.05", "--backoff-base", "0.1",
         "--backoff-max", "0.3"],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env=env,
        stdout=output_file, stderr=subprocess.STDOUT,
    )
    receiver = None
    try:
        grants = [grant_entitlement(user_id=500 + n % 2, entitlement_type=f"t{n}", event_id=f"w{n}",
                                    duration=timedelta(days=1)) for n in range(4)]
        revoke_entitlement(entitlement=grants[0], reason="refund")
        for _ in range(600):  # the receiver is down: wait until the worker has tried and failed
            if DeliveryAttempt.objects.filter(status_code__isnull=True).count() >= 3:
                break
            time.sleep(0.05)
        assert not OutboxMessage.objects.filter(delivered_at__isnull=False).exists()
        receiver = Receiver(port=port)
        for _ in range(600):
            if not OutboxMessage.objects.filter(delivered_at__isnull=True).exists():
                break
            time.sleep(0.05)
        expected = list(OutboxMessage.objects.order_by("id").values_list("message_id", "user_id"))
        delivered = [(r[0], r[1]) for r in receiver.delivered()]
        assert sorted(delivered) == sorted((str(m), u) for m, u in expected)  # each exactly once
        for user in (500, 501):
            assert [m for m, u in delivered if u == user] == [str(m) for m, u in expected if u == user]
        assert receiver.bad_signatures == 0
        assert DeliveryAttempt.objects.filter(status_code__isnull=True).count() >= 3
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        output_file.close()
        output = (tmp_path / "worker.log").read_text()
        if receiver:
            receiver.stop()
        connections.close_all()
    assert worker.returncode == 0, output
    assert "deliver_outbox: stopped" in output


def outbox_message(user_id, *, delivered_days_ago=None):
    now = timezone.now()
    message = OutboxMessage.objects.create(
        user_id=user_id, kind=outbox.GRANTED, payload={"user_id": user_id},
        delivered_at=None if delivered_days_ago is None else now - timedelta(days=delivered_days_ago))
    DeliveryAttempt.objects.create(message=message, status_code=200 if message.delivered_at else 503,
                                   delivered=message.delivered_at is not None)
    return message


@pytest.mark.django_db
def test_prune_outbox_deletes_only_messages_delivered_long_ago_with_their_attempts(capsys):
    old = [outbox_message(n, delivered_days_ago=40) for n in range(1, 6)]
    recent = outbox_message(10, delivered_days_ago=5)
    stuck = outbox_message(11)  # never delivered: kept, however old
    OutboxMessage.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(days=400))

    call_command("prune_outbox", "--older-than", "30", "--dry-run")
    assert "Dry run: 5 messages" in capsys.readouterr().out
    assert OutboxMessage.objects.count() == 7

    call_command("prune_outbox", "--older-than", "30", "--batch-size", "2")
    assert "Pruned: 5 messages" in capsys.readouterr().out
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}
    assert not DeliveryAttempt.objects.filter(message_id__in=[m.pk for m in old]).exists()
    assert DeliveryAttempt.objects.count() == 2

    call_command("prune_outbox")  # nothing left to prune: a clean no-op
    assert "Pruned: 0 messages" in capsys.readouterr().out


@pytest.mark.django_db
def test_prune_outbox_refuses_nonsense():
    with pytest.raises(CommandError):
        call_command("prune_outbox", "--older-than", "0")
