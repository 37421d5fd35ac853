"""The OpenAPI schema builds without a warning (CI fails otherwise) and the docs page needs no CDN."""

import re

import yaml
from django.core.management import call_command


def test_schema_builds_and_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    # --fail-on-warn turns any warning or error of drf-spectacular into a SchemaGenerationError.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ["/webhook/telegram/successful_payment", "/webhook/telegram/refund",
                 "/api/entitlements/{user_id}/", "/api/entitlements/{user_id}/{entitlement_type}/"]:
        assert path in paths, path


def test_every_url_of_the_api_is_in_the_schema(tmp_path):
    """A new DRF endpoint that the schema misses fails here (not only a warning-free build)."""
    from django.urls import get_resolver
    from rest_framework.views import APIView

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    documented = set(yaml.safe_load(target.read_text())["paths"])

    def walk(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    api_routes = {route for route, callback in walk(get_resolver())
                  if isinstance(getattr(callback, "cls", None), type) and issubclass(callback.cls, APIView)
                  and not callback.cls.__module__.startswith("drf_spectacular")}
    as_openapi = {"/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) for route in api_routes}
    assert as_openapi and as_openapi <= documented, as_openapi - documented


def test_webhooks_document_the_secret_header_and_every_answer(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    operation = yaml.safe_load(target.read_text())["paths"]["/webhook/telegram/successful_payment"]["post"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "header"} == {"X-Telegram-Bot-Api-Secret-Token"}
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "411", "413", "415", "429", "503"}
    assert operation["requestBody"]["required"] is True


def test_error_bodies_say_ok_false_and_success_bodies_ok_true(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                content = response["content"]["application/json"]
                for example in content.get("examples", {}).values():
                    assert example["value"]["ok"] is (code.startswith("2")), (path, method, code, example)
                if not code.startswith("2"):
                    component = content["schema"]["$ref"].rsplit("/", 1)[1]
                    ok = schema["components"]["schemas"][component]["properties"]["ok"]
                    assert ok == {"$ref": "#/components/schemas/OkFalseEnum"}, (path, code)
    assert schema["components"]["schemas"]["OkFalseEnum"]["enum"] == [False]
    assert schema["components"]["schemas"]["WebhookOutcome"]["properties"]["ok"]["$ref"].endswith("OkTrueEnum")


def test_schema_states_what_the_server_enforces(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    components = schema["components"]["schemas"]
    update = schema["paths"]["/webhook/telegram"]["post"]["requestBody"]
    assert update["required"] is True
    assert components["BotApiUpdate"]["required"] == ["update_id"]
    assert components["BotApiUpdate"]["properties"]["update_id"]["format"] == "int64"
    payment = components["SuccessfulPaymentRelay"]["properties"]
    assert payment["telegram_payment_charge_id"]["minLength"] == 1
    assert payment["entitlement_type"]["minLength"] == 1 and "pattern" in payment["entitlement_type"]
    assert [s.get("maximum") for s in payment["user_id"]["oneOf"]] == [2**63 - 1, None]
    [user_id] = [p for p in schema["paths"]["/api/entitlements/{user_id}/"]["get"]["parameters"]
                 if p["name"] == "user_id"]
    assert (user_id["schema"]["minimum"], user_id["schema"]["maximum"]) == (1, 2**63 - 1)


def test_schema_endpoint_serves_json_and_yaml(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/entitlements/{user_id}/" in response.json()["paths"]
    assert client.get("/api/schema/").status_code == 200


def test_docs_page_loads_its_assets_from_this_service_only(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
    assert any("drf_spectacular_sidecar" in s for s in sources)
    for asset in (s for s in sources if s.startswith("/static/")):
        assert client.get(asset).status_code == 200, asset
    # Swagger UI's start-up script is a file of its own (?script), not inline: the CSP forbids inline scripts.
    assert "<script>" not in html
    [script] = [s for s in sources if s.startswith("/api/docs/") and "script" in s]
    start = client.get(script.replace("&amp;", "&"))
    assert start.status_code == 200 and start["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in start.content.decode()  # no call to validator.swagger.io either
    assert "script-src 'self';" in response["Content-Security-Policy"]
