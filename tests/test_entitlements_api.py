"""GET /api/entitlements/<user_id>/ and /<user_id>/<type>/: token-authenticated, one indexed query."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from entitlements.selectors import ActiveEntitlement, current_access
from entitlements.services import grant_entitlement, revoke_entitlement

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    service = get_user_model().objects.create_user("bot-frontend-service")
    return Token.objects.create(user=service)


@pytest.fixture
def api(client, token):
    def get(url, **headers):
        return client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}", **headers)

    return get


def iso(value):
    return value.isoformat().replace("+00:00", "Z")


def test_401_without_or_with_a_wrong_token(client, token):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Token not-a-real-token"},
                    {"HTTP_AUTHORIZATION": f"Bearer {token.key}"}):
        response = client.get("/api/entitlements/42/", **headers)
        assert response.status_code == 401, headers
        assert response.json()["ok"] is False
        assert response.json()["error"] in {"not_authenticated", "authentication_failed"}
        assert response["WWW-Authenticate"] == "Token"
    assert client.get("/api/entitlements/42/premium_monthly/").status_code == 401


def test_a_deactivated_service_account_is_refused(api, token):
    token.user.is_active = False
    token.user.save()
    assert api("/api/entitlements/42/").status_code == 401


def test_list_of_active_entitlements_with_expiry(api):
    now = timezone.now()
    first = grant_entitlement(user_id=42, entitlement_type="premium_monthly", event_id="e1",
                              duration=timedelta(days=30), now=now)
    grant_entitlement(user_id=42, entitlement_type="premium_monthly", event_id="e2", duration=timedelta(days=30),
                      now=now)  # stacked: access runs 60 days
    grant_entitlement(user_id=42, entitlement_type="lifetime", event_id="e3", now=now)
    revoked = grant_entitlement(user_id=42, entitlement_type="premium_yearly", event_id="e4",
                                duration=timedelta(days=365), now=now)
    revoke_entitlement(entitlement=revoked, reason="refund")
    grant_entitlement(user_id=43, entitlement_type="premium_yearly", event_id="e5", duration=timedelta(days=365))

    response = api("/api/entitlements/42/")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": 42,
        "entitlements": [
            {"entitlement_type": "lifetime", "expires_at": None},
            {"entitlement_type": "premium_monthly", "expires_at": iso(first.expires_at + timedelta(days=30))},
        ],
    }


def test_check_one_type(api):
    grant = grant_entitlement(user_id=42, entitlement_type="premium_monthly", event_id="e1",
                              duration=timedelta(days=30))
    assert api("/api/entitlements/42/premium_monthly/").json() == {
        "user_id": 42, "entitlement_type": "premium_monthly", "active": True, "expires_at": iso(grant.expires_at)}
    assert api("/api/entitlements/42/premium_yearly/").json() == {
        "user_id": 42, "entitlement_type": "premium_yearly", "active": False, "expires_at": None}
    revoke_entitlement(entitlement=grant, reason="refund")
    assert api("/api/entitlements/42/premium_monthly/").json()["active"] is False


def test_expired_and_unknown_users_have_nothing(api):
    past = timezone.now() - timedelta(days=90)
    grant_entitlement(user_id=42, entitlement_type="premium_monthly", event_id="old", duration=timedelta(days=30),
                      now=past)
    assert api("/api/entitlements/42/").json() == {"user_id": 42, "entitlements": []}
    assert api("/api/entitlements/987654321/").json() == {"user_id": 987654321, "entitlements": []}


def test_bad_user_ids(api):
    assert api("/api/entitlements/0/").status_code == 400
    assert api("/api/entitlements/0/").json()["error"] == "invalid_user_id"
    assert api(f"/api/entitlements/{2**63}/").status_code == 400
    for bad in ("abc", "-5", "+5", "1.5", "%EF%BC%91", "%00", "1%201"):  # %EF%BC%91: a full-width 1
        response = api(f"/api/entitlements/{bad}/")
        assert response.status_code == 400, bad
        assert response.json() == {"ok": False, "error": "invalid_user_id",
                                   "detail": "user_id must be an integer in 1..2^63-1."}
        assert api(f"/api/entitlements/{bad}/premium_monthly/").json()["error"] == "invalid_user_id"
    assert api("/api/entitlements/0000042/").status_code == 200  # leading zeros: still 42


def test_bad_entitlement_types(api):
    for bad in ("premium.monthly", "a%20b", "%00", "x" * 101):
        response = api(f"/api/entitlements/42/{bad}/")
        assert response.status_code == 400, bad
        assert response.json()["ok"] is False and response.json()["error"] == "invalid_entitlement_type"
    assert api(f"/api/entitlements/42/{'x' * 100}/").json()["active"] is False


def test_an_accept_header_without_json_is_406_in_json(api):
    response = api("/api/entitlements/42/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["ok"] is False and response.json()["error"] == "not_acceptable"


def test_unmatched_api_and_webhook_urls_answer_json_404(api, client):
    for url in ("/api/entitlements/42/premium_monthly/extra/", "/api/nothing-here", "/webhook/other",
                "/webhook/telegram/refund/"):
        response = api(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json", url
        assert response.json() == {"ok": False, "error": "not_found", "detail": "No such URL."}
    # Elsewhere (admin, docs) Django's page as before.
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_one_query_for_the_answer_plus_one_for_the_token(api, django_assert_num_queries):
    for n in range(5):
        grant_entitlement(user_id=42, entitlement_type=f"type_{n}", event_id=f"e{n}", duration=timedelta(days=30))
    with django_assert_num_queries(2) as captured:  # token lookup, then the entitlements
        assert len(api("/api/entitlements/42/").json()["entitlements"]) == 5
    assert "authtoken_token" in captured.captured_queries[0]["sql"]
    with django_assert_num_queries(2):
        assert api("/api/entitlements/42/type_3/").json()["active"] is True


def test_the_query_uses_the_user_type_index(django_assert_num_queries):
    from django.db import connection

    from entitlements.models import Entitlement

    with django_assert_num_queries(1) as captured:
        current_access(42, entitlement_type="premium_monthly")
    sql = captured.captured_queries[0]["sql"]
    assert '"user_id" = 42' in sql and '"entitlement_type" = ' in sql
    index_columns = [index.fields for index in Entitlement._meta.indexes]
    assert ["user_id", "scope", "entitlement_type"] in index_columns
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Scan using entitlements_user_scope_type" in plan, plan


def test_current_access_joins_stacks_and_follows_revokes():
    now = timezone.now()
    grant_entitlement(user_id=7, entitlement_type="a", event_id="a1", duration=timedelta(days=10), now=now)
    grant_entitlement(user_id=7, entitlement_type="a", event_id="a2", duration=timedelta(days=10), now=now)
    middle = grant_entitlement(user_id=7, entitlement_type="b", event_id="b1", duration=timedelta(days=5), now=now)
    grant_entitlement(user_id=7, entitlement_type="b", event_id="b2", duration=timedelta(days=5), now=now)
    grant_entitlement(user_id=7, entitlement_type="c", event_id="c1", expires_at=now + timedelta(days=3), now=now)
    grant_entitlement(user_id=7, entitlement_type="d", event_id="d1", now=now)
    revoke_entitlement(entitlement=middle, reason="refund", now=now)
    day = timedelta(days=1)
    a, b, c, d = (ActiveEntitlement("a", now + 20 * day), ActiveEntitlement("b", now + 5 * day),
                  ActiveEntitlement("c", now + 3 * day), ActiveEntitlement("d", None))
    assert current_access(7, at=now) == [a, b, c, d]
    assert current_access(7, at=now + 4 * day) == [a, b, d]
    assert current_access(7, at=now + 12 * day) == [a, d]
    assert current_access(7, at=now + 25 * day) == [d]


def test_staff_create_tokens_in_the_admin_and_see_each_key_once(admin_client, client):
    service = get_user_model().objects.create_user("reports-service")
    response = admin_client.post("/admin/entitlements/servicetoken/add/", {"user": service.pk}, follow=True)
    assert response.status_code == 200
    key = Token.objects.get(user=service).key
    assert key in response.content.decode()  # shown once, to copy
    listing = admin_client.get("/admin/entitlements/servicetoken/").content.decode()
    assert "reports-service" in listing and key[:4] in listing and key not in listing
    change = admin_client.get(f"/admin/entitlements/servicetoken/{service.pk}/change/").content.decode()
    assert key not in change
    assert client.get("/api/entitlements/1/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_the_entitlements_app_never_imports_telegram_payments():
    import ast
    from pathlib import Path

    import entitlements

    offenders = []
    for path in Path(entitlements.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "telegram_payments"]
    assert offenders == []
