"""PostgreSQL only: `stars_record_payment()`, the write half of a new payment in one statement.

services.py decides everything that needs no lock in Python (which product, is it on sale, XTR,
the price, the grant's length) and then calls this function once. It does what must happen under
the charge's lock, exactly as the Python path (`services._grant_planned`) does for SQLite and for
replays, in the same order and with the same named locks (payments_project/locks.py):

  if the product Python decided on (p_product_id) is no longer at the row version it read
  (p_product_version, its xmin): 'stale', nothing done, and Python decides again on a fresh read;
  lock "charge:<charge id>"; if the event is stored: 'duplicate' (a copy, redelivered or concurrent);
  mark the invoice paid; if the charge's refund is recorded: note it and grant nothing; otherwise
  lock "entitlement:<user>:<type>", stack after the user's current end, insert the grant;
  insert the processed event: 'processed', with the event's id and note.

Keep it and `_grant_planned` alike: a change to one is a new migration (CREATE OR REPLACE, or DROP
and CREATE for a new signature) plus the same change to the other; tests/test_payment_paths.py
runs every case through both.

One round trip instead of nine: in PL/pgSQL every statement takes a fresh snapshot (READ
COMMITTED), so what a statement reads after a lock includes what the lock's previous holder
committed, as with separate statements. Called outside a transaction it commits on its own.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION stars_record_payment(
    p_event_id varchar, p_event_type varchar, p_payment_method varchar, p_refund_event_id varchar,
    p_user_id bigint, p_entitlement_type varchar, p_amount integer, p_currency varchar,
    p_source varchar, p_update_id bigint, p_charge_id varchar, p_provider_charge_id varchar,
    p_invoice_payload varchar, p_subscription_expires_at timestamptz, p_payload jsonb,
    p_now timestamptz,
    p_invoice_id bigint,       -- our invoice that was paid (marked paid), or NULL
    p_duration_seconds bigint, -- a grant of this length, stacked after the current end, or NULL
    p_expires_at timestamptz,  -- or a grant ending then (subscriptions); both NULL: for life
    p_product_id bigint,       -- the catalog entry the checks used, if read from memory, and
    p_product_version text     -- its row version (xmin) then
) RETURNS TABLE (outcome text, event_pk bigint, event_note text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_starts timestamptz := p_now;
    v_expires timestamptz := p_expires_at;
    v_current_end timestamptz;
BEGIN
    IF p_product_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM telegram_payments_product WHERE id = p_product_id AND xmin::text = p_product_version
    ) THEN
        outcome := 'stale';
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('charge:' || p_charge_id, 0));
    IF EXISTS (SELECT 1 FROM stripe_events WHERE event_id = p_event_id) THEN
        outcome := 'duplicate';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_invoice_id IS NOT NULL THEN
        UPDATE telegram_payments_invoice SET status = 'paid', paid_at = p_now
        WHERE id = p_invoice_id AND status <> 'paid';
    END IF;
    IF EXISTS (SELECT 1 FROM stripe_events WHERE event_id = p_refund_event_id) THEN
        event_note := 'This charge was refunded before its payment arrived: nothing granted.';
    ELSE
        PERFORM pg_advisory_xact_lock(
            hashtextextended('entitlement:' || p_user_id || ':' || p_entitlement_type, 0));
        IF p_duration_seconds IS NOT NULL THEN
            SELECT max(expires_at) INTO v_current_end FROM entitlements
            WHERE user_id = p_user_id AND entitlement_type = p_entitlement_type
              AND revoked_at IS NULL AND expires_at > p_now;
            v_starts := coalesce(v_current_end, p_now);
            v_expires := v_starts + p_duration_seconds * interval '1 second';
        ELSIF v_expires IS NOT NULL AND v_expires <= p_now THEN
            v_starts := v_expires - interval '1 second';  -- a period already over: nothing usable
        END IF;
        INSERT INTO entitlements (user_id, entitlement_type, event_id, granted_at, starts_at, expires_at,
                                  revoked_at, revoke_reason)
        VALUES (p_user_id, p_entitlement_type, p_event_id, p_now, v_starts, v_expires, NULL, '');
        event_note := format('Granted %s to %s %s.', p_entitlement_type, p_user_id,
            CASE WHEN v_expires IS NULL THEN 'for life'
                 ELSE 'until ' || to_char(v_expires AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' END);
    END IF;
    INSERT INTO stripe_events (
        event_id, event_type, payment_method, customer_id, amount_cents, currency, status, source,
        update_id, telegram_payment_charge_id, provider_payment_charge_id, invoice_payload,
        entitlement_type, subscription_expires_at, refund_reason, initiated_by_id, payload, error,
        note, attempts, received_at, processed_at)
    VALUES (
        p_event_id, p_event_type, p_payment_method, p_user_id::text, p_amount, p_currency, 1, p_source,
        p_update_id, p_charge_id, p_provider_charge_id, p_invoice_payload,
        p_entitlement_type, p_subscription_expires_at, '', NULL, p_payload, '',
        event_note, 1, p_now, p_now)
    RETURNING id INTO event_pk;
    outcome := 'processed';
    RETURN NEXT;
END
$$;
"""

DROP = "DROP FUNCTION IF EXISTS stars_record_payment"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)  # no placeholders: its %s are format()'s


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("telegram_payments", "0004_admin_refund_proxy"),
        ("entitlements", "0002_outbox"),
    ]

    operations = [migrations.RunPython(create, drop)]
