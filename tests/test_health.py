"""/healthz (alive, no database) and /readyz (database answers, migrations applied)."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from payments_project import health


@pytest.fixture(autouse=True)
def fresh_migration_check(monkeypatch):
    # Each test decides for itself whether migrations are applied (the check caches a success).
    monkeypatch.setattr(health, "_migrations_seen_applied", False)


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any database access here would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_database_answers_and_migrations_are_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "cache": "ok"}}
    assert response["Content-Type"] == "application/json"


def newest_migration(app: str) -> str:
    (name,) = [name for label, name in MigrationLoader(connection).graph.leaf_nodes() if label == app]
    return name


@pytest.mark.django_db
def test_readyz_503_when_a_migration_is_not_applied(client):
    # As after deploying new code before `migrate`: the newest entitlements migration is unrecorded.
    name = newest_migration("entitlements")
    MigrationRecorder(connection).migration_qs.filter(app="entitlements", name=name).delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "migrations": "1 unapplied"}}
    assert client.get("/healthz").status_code == 200  # alive, just not ready


@pytest.mark.django_db
def test_readyz_caches_only_success(client):
    recorder = MigrationRecorder(connection)
    name = newest_migration("entitlements")
    recorder.migration_qs.get(app="entitlements", name=name).delete()
    assert client.get("/readyz").status_code == 503
    recorder.record_applied("entitlements", name)
    assert client.get("/readyz").status_code == 200
    assert health._migrations_seen_applied


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_readyz_503_when_the_database_does_not_answer(client, settings):
    # A real connection to a port where no PostgreSQL listens, in place of the real one.
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "9"
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
        assert client.get("/healthz").status_code == 200
    finally:
        connection.close()
        connection.settings_dict.update(original)
    assert client.get("/readyz").status_code == 200


def test_probes_are_get_only(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405
    assert client.post("/metrics").status_code == 405
