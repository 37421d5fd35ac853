"""What a payment writes, on every database through the one pipeline: grants, stacking, notes, invoices."""

from datetime import timedelta

import pytest
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EventStatus, Invoice, InvoiceStatus, Product, StripeEvent
from telegram_payments.payments.pipeline import handle_refund, handle_successful_payment

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def pay(charge, user=7, entitlement_type="premium_monthly", amount=250, **kw):
    return handle_successful_payment(
        user_id=user, telegram_payment_charge_id=charge, total_amount=amount, currency="XTR",
        entitlement_type=entitlement_type, source="relay", payload={"charge": charge}, **kw,
    )


def grant_of(charge) -> Entitlement:
    return Entitlement.objects.get(event_id=f"tg_stars:payment:{charge}")


def test_a_grant_and_its_note(catalog):
    before = timezone.now()
    outcome = pay("p1")
    assert outcome.status == "processed"
    grant = grant_of("p1")
    assert before <= grant.starts_at <= timezone.now()
    assert grant.expires_at - grant.starts_at == 30 * DAY
    assert (grant.user_id, grant.entitlement_type, grant.revoked_at, grant.revoke_reason) == (
        7, "premium_monthly", None, "")
    event = StripeEvent.objects.get(event_id="tg_stars:payment:p1")
    assert event.pk == outcome.event.pk
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 1, "")
    assert event.note == f"Granted premium_monthly to 7 until {grant.expires_at:%Y-%m-%d %H:%M} UTC."
    assert outcome.event.note == event.note
    assert event.processed_at is not None and event.received_at is not None
    assert event.payload == {"charge": "p1"}


def test_grants_of_one_type_stack_and_other_users_do_not(catalog):
    pay("p1")
    pay("p2")
    pay("p3", user=8)
    assert grant_of("p2").starts_at == grant_of("p1").expires_at
    assert grant_of("p2").expires_at - grant_of("p1").starts_at == 60 * DAY
    assert grant_of("p3").expires_at - grant_of("p3").starts_at == 30 * DAY
    assert grant_of("p3").starts_at < grant_of("p1").expires_at


def test_a_revoked_grant_is_not_stacked_on(catalog):
    pay("p1")
    handle_refund(user_id=7, telegram_payment_charge_id="p1", source="relay", payload={})
    pay("p2")
    assert grant_of("p2").starts_at < grant_of("p1").expires_at


def test_lifetime_grant(catalog):
    pay("p1", entitlement_type="lifetime", amount=10000)
    assert grant_of("p1").expires_at is None
    assert StripeEvent.objects.get(event_id="tg_stars:payment:p1").note == "Granted lifetime to 7 for life."


def test_subscription_periods_end_when_telegram_says(subscription_catalog):
    end = timezone.now() + 30 * DAY
    pay("p1", entitlement_type="premium_subscription", amount=200, subscription_expires_at=end)
    assert grant_of("p1").expires_at == end
    over = timezone.now() - DAY  # a late delivery of a period already over: recorded, nothing usable
    pay("p2", entitlement_type="premium_subscription", amount=200, subscription_expires_at=over)
    assert (grant_of("p2").starts_at, grant_of("p2").expires_at) == (over - timedelta(seconds=1), over)


def test_a_refund_before_its_payment_means_the_payment_grants_nothing(catalog):
    handle_refund(user_id=7, telegram_payment_charge_id="p1", source="relay", payload={})
    outcome = pay("p1")
    assert outcome.status == "processed"
    assert not Entitlement.objects.exists()
    assert outcome.event.note == "This charge was refunded before its payment arrived: nothing granted."
    assert StripeEvent.objects.get(event_id="tg_stars:payment:p1").note == outcome.event.note


def test_the_invoice_paid_is_marked_paid_at_its_price(catalog):
    invoice = Invoice.objects.create(product=catalog["premium_yearly"], price_stars=2000, user_id=7)
    outcome = pay("p1", entitlement_type="", amount=2000, invoice_payload=invoice.payload)
    assert outcome.status == "processed"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at is not None
    assert grant_of("p1").expires_at - grant_of("p1").starts_at == 365 * DAY
    assert StripeEvent.objects.get(event_id="tg_stars:payment:p1").entitlement_type == "premium_yearly"


@pytest.mark.parametrize("change,error", [
    ({"entitlement_type": "nope"}, "unknown product 'nope'"),
    ({"amount": 249}, "amount 249 XTR is below the price of 250 XTR"),
])
def test_a_rejected_payment_is_recorded_failed_with_nothing_granted(catalog, change, error):
    outcome = pay("p1", **change)
    assert outcome.status == "failed"
    event = StripeEvent.objects.get()
    assert (event.status, event.error, event.attempts) == (EventStatus.FAILED, error, 1)
    assert not Entitlement.objects.exists()


def test_a_second_delivery_is_a_duplicate(catalog):
    first = pay("p1")
    again = pay("p1")
    assert (again.status, again.event.pk) == ("duplicate", first.event.pk)
    assert Entitlement.objects.count() == 1


@pytest.mark.parametrize("change,status", [
    ({"price_stars": 999}, "failed"),  # now below the price
    ({"is_active": False}, "failed"),  # off sale
    ({"duration_days": 1}, "processed"),  # granted for the new length
])
def test_a_catalog_change_counts_from_the_next_payment_even_without_save(catalog, change, status):
    """The catalog is read by each payment, so a change made any way (here a bulk update, which sends
    no signal) counts from the next payment."""
    assert pay("p1").status == "processed"
    Product.objects.filter(entitlement_type="premium_monthly").update(**change)
    assert pay("p2", user=8).status == status
    if status == "processed":
        assert grant_of("p2").expires_at - grant_of("p2").starts_at == DAY


def test_a_product_back_on_sale_is_sold_again(catalog):
    Product.objects.filter(entitlement_type="premium_monthly").update(is_active=False)
    assert pay("p1").status == "failed"
    Product.objects.filter(entitlement_type="premium_monthly").update(is_active=True)
    assert pay("p2").status == "processed"


def test_a_copy_arriving_after_the_product_went_off_sale_is_a_duplicate(catalog, caplog):
    first = pay("p1")
    Product.objects.filter(entitlement_type="premium_monthly").update(is_active=False, price_stars=999)
    caplog.clear()
    again = pay("p1")
    assert "failed" not in caplog.text  # no failure logged (nor a failed row tried) for a mere copy
    assert (again.status, again.event.pk) == ("duplicate", first.event.pk)
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED


# --- what a payment may not claim (pre-checkout can be bypassed: the payment is checked again) ---
def test_a_subscription_period_for_a_product_that_is_no_subscription_is_refused(catalog):
    """A lifetime product paid with a subscription end of 9999-12-31: not honoured (nor off sale)."""
    invoice = Invoice.objects.create(product=catalog["lifetime"], price_stars=10000, user_id=7)
    outcome = pay("p1", entitlement_type="", amount=10000, invoice_payload=invoice.payload,
                  subscription_expires_at=timezone.now().replace(year=9999, month=12, day=31))
    assert outcome.status == "failed" and "not a subscription" in outcome.event.error
    Product.objects.filter(pk=catalog["lifetime"].pk).update(is_active=False)
    outcome = pay("p2", entitlement_type="", amount=10000, invoice_payload=invoice.payload,
                  subscription_expires_at=timezone.now() + 30 * DAY)
    assert outcome.status == "failed" and "not on sale" in outcome.event.error
    assert not Entitlement.objects.exists()


def test_a_subscription_end_beyond_one_period_from_now_is_refused(subscription_catalog):
    outcome = pay("p1", entitlement_type="premium_subscription", amount=200,
                  subscription_expires_at=timezone.now() + 90 * DAY)
    assert outcome.status == "failed" and "more than one period from now" in outcome.event.error
    assert not Entitlement.objects.exists()


def test_the_buyer_must_be_the_user_the_invoice_was_issued_to(catalog):
    invoice = Invoice.objects.create(product=catalog["premium_monthly"], price_stars=250, user_id=7)
    outcome = pay("p1", user=8, entitlement_type="", invoice_payload=invoice.payload)
    assert outcome.status == "failed" and "issued to user 7" in outcome.event.error
    assert not Entitlement.objects.exists()


def test_a_refund_naming_another_user_is_recorded_under_the_payments_user(catalog):
    pay("p1", user=7012)
    refund = handle_refund(user_id=7013, telegram_payment_charge_id="p1", source="relay", payload={})
    assert refund.status == "processed" and refund.event.customer_id == "7012"
    assert "named user 7013" in refund.event.note
    assert StripeEvent.objects.get(event_id="tg_stars:refund:p1").customer_id == "7012"
    assert grant_of("p1").revoked_at is not None
