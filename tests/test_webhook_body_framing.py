"""A chunked request body (Transfer-Encoding: chunked, no Content-Length) is answered 411 naming the
reason, over real HTTP; it used to be read as empty and answered 400 "field required"."""

import json
import socket
from urllib.parse import urlsplit

import pytest

from telegram_payments.models import StripeEvent

pytestmark = pytest.mark.django_db(transaction=True)  # live_server


def chunked_post(base_url: str, path: str, body: bytes, secret: str) -> tuple[int, dict]:
    url = urlsplit(base_url)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = (f"POST {path} HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode() + chunks)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_a_chunked_payment_is_411_and_stores_nothing(live_server, catalog, webhook_secret):
    body = json.dumps({"user_id": 42, "entitlement_type": "premium_monthly", "telegram_payment_charge_id": "chunky",
                       "total_amount": 250, "currency": "XTR"}).encode()
    status, answer = chunked_post(live_server.url, "/webhook/telegram/successful_payment", body, webhook_secret)
    assert (status, answer["ok"], answer["error"]) == (411, False, "length_required")
    assert "Content-Length" in answer["detail"]
    assert not StripeEvent.objects.exists()


def test_a_chunked_update_is_411(live_server, webhook_secret):
    status, answer = chunked_post(live_server.url, "/webhook/telegram", b'{"update_id": 1}', webhook_secret)
    assert (status, answer["error"]) == (411, "length_required")


def test_a_chunked_body_with_a_wrong_secret_is_still_401(live_server):
    status, answer = chunked_post(live_server.url, "/webhook/telegram", b'{"update_id": 1}', "wrong")
    assert (status, answer["error"]) == (401, "unauthorized")
