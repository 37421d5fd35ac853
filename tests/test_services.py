"""The payment and refund services, called directly as every route calls them."""


import pytest

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, Invoice, StripeEvent
from telegram_payments.payments.events import payment_event_id, refund_event_id
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment, replay_event

pytestmark = pytest.mark.django_db


def pay(charge="c1", user_id=7, entitlement_type="premium_monthly", amount=250, **kw):
    return handle_successful_payment(
        user_id=user_id, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, source="relay", payload={"charge": charge}, **kw,
    )


def test_event_ids_are_per_charge_and_kind():
    assert payment_event_id("abc") == "tg_stars:payment:abc"
    assert refund_event_id("abc") == "tg_stars:refund:abc"


def test_long_charge_ids_are_hashed_to_fit_and_stay_distinct():
    long_a, long_b = "a" * 250, "a" * 249 + "b"
    assert len(payment_event_id(long_a)) <= 255
    assert payment_event_id(long_a) != payment_event_id(long_b)
    assert payment_event_id(long_a) != refund_event_id(long_a)
    assert payment_event_id(long_a).startswith("tg_stars:payment:sha256:")


def test_long_charge_id_end_to_end(catalog):
    charge = "x" * 255
    outcome = pay(charge=charge)
    assert outcome.status == "processed"
    assert outcome.event.telegram_payment_charge_id == charge
    assert handle_refund(user_id=7, telegram_payment_charge_id=charge, source="relay",
                         payload={}).status == "processed"
    assert Entitlement.objects.get().revoked_at is not None


def test_payment_processed_once(catalog):
    first, second = pay(), pay()
    assert (first.status, second.status) == ("processed", "duplicate")
    assert second.event.pk == first.event.pk
    assert StripeEvent.objects.count() == 1 and Entitlement.objects.count() == 1


def test_one_invoice_paid_twice_with_two_charges_grants_twice(catalog):
    invoice = Invoice.objects.create(product=catalog["premium_monthly"], price_stars=250, user_id=None)
    a = pay(charge="c1", invoice_payload=invoice.payload, entitlement_type="")
    b = pay(charge="c2", invoice_payload=invoice.payload, entitlement_type="")
    assert (a.status, b.status) == ("processed", "processed")
    assert Entitlement.objects.count() == 2
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_invoice_price_at_issue_time_counts_not_todays_price(catalog):
    product = catalog["premium_monthly"]
    invoice = Invoice.objects.create(product=product, price_stars=250, user_id=7)
    product.price_stars = 999
    product.save()
    assert pay(invoice_payload=invoice.payload, entitlement_type="").status == "processed"


def test_exception_inside_grant_records_failure_and_rolls_back_then_replay_completes(catalog, crashing_grant):
    crashing_grant("grant service down")
    outcome = pay()
    crashing_grant.stop()
    assert outcome.status == "failed"
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert "grant service down" in event.error
    assert not Entitlement.objects.exists()

    replayed = replay_event(event=event)
    assert replayed.status == "processed"
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == (EventStatus.PROCESSED, "", 2)
    assert Entitlement.objects.get().event_id == event.event_id
    assert replay_event(event=event).status == "duplicate"
    assert Entitlement.objects.count() == 1


def test_replay_that_fails_again_keeps_the_error_and_counts_the_attempt(catalog):
    outcome = pay(entitlement_type="nope")
    again = replay_event(event=outcome.event)
    assert again.status == "failed"
    again.event.refresh_from_db()
    assert again.event.attempts == 2
    assert "unknown product 'nope'" in again.event.error


def test_duplicate_of_a_failed_event_reports_duplicate_and_keeps_it_failed(catalog):
    pay(entitlement_type="nope")
    outcome = pay(entitlement_type="nope")
    assert outcome.status == "duplicate"
    assert outcome.event.status == EventStatus.FAILED


def test_refund_of_unknown_charge_is_recorded(catalog):
    outcome = handle_refund(user_id=7, telegram_payment_charge_id="ghost", source="relay", payload={})
    assert outcome.status == "processed"
    assert outcome.event.event_type == "telegram_stars.refund"


def test_refund_of_failed_payment_revokes_nothing_and_replay_then_grants_nothing(catalog):
    failed = pay(entitlement_type="nope").event
    handle_refund(user_id=7, telegram_payment_charge_id="c1", source="relay", payload={})
    assert replay_event(event=failed).status == "duplicate"  # refunded: the failure has ended, left alone
    failed.refresh_from_db()
    assert failed.status == EventStatus.FAILED and not Entitlement.objects.exists()


def test_a_duplicate_outcome_carries_the_stored_event_as_it_is(catalog):
    first = pay(amount=300)
    again = pay(amount=300).event
    assert (again.pk, again.event_id, again.status, again.customer_id, again.amount_cents, again.currency,
            again.entitlement_type, again.source, again.telegram_payment_charge_id) == (
        first.event.pk, "tg_stars:payment:c1", EventStatus.PROCESSED, "7", 300, "XTR", "premium_monthly", "relay", "c1")
