"""The charset a webhook body may declare: UTF-8, UTF-16 or UTF-32, never any other Python codec.

A charset names a Python codec, and many codecs are not text encodings (bz2, zlib, base64, rot13):
they expand a tiny body past the size limit, or fail with errors no view expects.
"""

import bz2
import codecs
import io
import json
import zlib

import pytest

from entitlements.models import Entitlement
from telegram_payments.models import Invoice, StripeEvent
from tests.conftest import answer_status
from tests.test_hostile_input import relay_payment, update_payment

pytestmark = pytest.mark.django_db

ENDPOINTS = {"relay": ("/webhook/telegram/successful_payment", relay_payment),
             "update": ("/webhook/telegram", update_payment)}
endpoint_param = pytest.mark.parametrize("endpoint", list(ENDPOINTS))


@pytest.fixture(autouse=True)
def invoice(catalog):
    return Invoice.objects.create(payload="inv_h", user_id=None, product=catalog["premium_monthly"],
                                  price_stars=250)


def encoded(body: dict, charset: str) -> bytes:
    text = json.dumps(body)
    if charset == "bz2":
        return bz2.compress(text.encode())
    if charset == "zlib":
        return zlib.compress(text.encode())
    return codecs.encode(text.encode() if charset in ("base64", "hex") else text, charset)


@endpoint_param
@pytest.mark.parametrize("charset", ["bz2", "zlib", "base64", "hex", "rot13", "unicode_escape", "latin-1",
                                     "cp1252", "utf-7", "utf-8-sig", "cp500"])
def test_a_body_in_another_codec_is_415_and_stores_nothing(post_json, endpoint, charset):
    url, valid_body = ENDPOINTS[endpoint]
    response = post_json(url, encoded(valid_body(f"codec-{charset}"), charset),
                         content_type=f"application/json; charset={charset}")
    assert response.status_code == 415, response.content[:200]
    assert response.json()["ok"] is False
    assert response.json()["error"] == "unsupported_charset"
    assert StripeEvent.objects.count() == Entitlement.objects.count() == 0


@endpoint_param
def test_a_compressed_bomb_is_not_expanded(post_json, endpoint):
    url, valid_body = ENDPOINTS[endpoint]
    body = {**valid_body("bomb"), "padding": "x" * 5_000_000}
    small = bz2.compress(json.dumps(body).encode())
    assert len(small) < 1000
    response = post_json(url, small, content_type="application/json; charset=bz2")
    assert response.status_code == 415
    assert not StripeEvent.objects.exists()


@endpoint_param
@pytest.mark.parametrize("charset", ["rot13", "zlib", "base64", "bz2"])
def test_a_plain_body_declared_in_a_codec_is_415_not_a_500(post_json, endpoint, charset):
    url, valid_body = ENDPOINTS[endpoint]
    response = post_json(url, json.dumps(valid_body(f"plain-{charset}")),
                         content_type=f"application/json; charset={charset}")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_charset"


@endpoint_param
@pytest.mark.parametrize("charset", ["nope", "", '""', "x" * 300])
def test_an_unknown_or_empty_charset_is_415(post_json, endpoint, charset):
    url, valid_body = ENDPOINTS[endpoint]
    response = post_json(url, json.dumps(valid_body("unknown")), content_type=f"application/json; charset={charset}")
    assert response.status_code == 415
    # (DRF does not take a Content-Type with a 300-character parameter as JSON at all)
    assert response.json()["error"] in {"unsupported_charset", "unsupported_media_type"}


@endpoint_param
@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"', "utf8", "utf-16", "utf-16-le", "UTF-16BE",
                                     "utf-32", "utf-32-be"])
def test_utf_8_16_and_32_are_read(post_json, endpoint, charset):
    url, valid_body = ENDPOINTS[endpoint]
    codec = charset.strip('"')
    body = valid_body(f"ok-{codec.lower()}")
    response = post_json(url, json.dumps(body).encode(codec), content_type=f"application/json; charset={charset}")
    assert response.status_code == 200, response.content[:200]
    assert answer_status(response.json()) == "processed"
    assert StripeEvent.objects.get().payload["message" if endpoint == "update" else "user_id"]


@endpoint_param
def test_the_size_limit_holds_for_the_decoded_document(post_json, endpoint, stars):
    url, valid_body = ENDPOINTS[endpoint]
    body = {**valid_body("wide"), "padding": "€" * 30_000}  # 2 bytes each in UTF-16, 3 in UTF-8
    raw = json.dumps(body, ensure_ascii=False).encode("utf-16")
    assert len(raw) <= stars.WEBHOOK_MAX_BODY_BYTES < len(json.dumps(body, ensure_ascii=False).encode())
    response = post_json(url, raw, content_type="application/json; charset=utf-16")
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert not StripeEvent.objects.exists()


def call_wsgi(url: str, body: bytes, content_type: str, secret: str) -> tuple[int, dict]:
    """A request through the production WSGI application (the test client builds its own requests)."""
    from payments_project.wsgi import application

    path, _, query = url.partition("?")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "testserver",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
               "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
               "wsgi.multiprocess": False, "wsgi.run_once": False, "wsgi.version": (1, 0),
               "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    started = []
    chunks = application(environ, lambda status, headers, exc_info=None: started.append(status))
    content = b"".join(chunks)
    return int(started[0].split()[0]), json.loads(content)


@endpoint_param
@pytest.mark.parametrize("charset", ["bz2", "rot13", "base64", "zlib"])
def test_a_query_string_with_a_codec_charset_is_415_not_a_500(endpoint, charset, webhook_secret, transactional_db):
    url, valid_body = ENDPOINTS[endpoint]
    raw = json.dumps(valid_body("query")).encode()
    status, body = call_wsgi(f"{url}?a=b", raw, f"application/json; charset={charset}", webhook_secret)
    assert (status, body["error"]) == (415, "unsupported_charset")
    status, _ = call_wsgi(f"{url}?a=b", raw, f"application/json; charset={charset}", "wrong")
    assert status == 401
    assert not StripeEvent.objects.exists()
