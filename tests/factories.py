"""factory-boy factories for the models tests build rows of directly."""

from datetime import timedelta

import factory
from django.utils import timezone

from entitlements.models import Entitlement
from telegram_payments.models import EVENT_PAYMENT, EventSource, EventStatus, Invoice, Product, StripeEvent
from telegram_payments.payments.events import payment_event_id


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("entitlement_type",)

    entitlement_type = factory.Sequence(lambda n: f"product_{n}")
    title = factory.LazyAttribute(lambda o: o.entitlement_type.replace("_", " ").title()[:32])
    description = "A product for tests."
    price_stars = 100
    duration_days = 30


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An open invoice for one user at the product's price; `payload` is the model's own fresh one."""

    class Meta:
        model = Invoice

    product = factory.SubFactory(ProductFactory)
    user_id = 1001
    price_stars = factory.SelfAttribute("product.price_stars")


class StripeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StripeEvent

    telegram_payment_charge_id = factory.Sequence(lambda n: f"charge_{n:06d}")
    event_id = factory.LazyAttribute(lambda o: payment_event_id(o.telegram_payment_charge_id))
    event_type = EVENT_PAYMENT
    customer_id = "1001"
    amount_cents = 100
    currency = "XTR"
    status = EventStatus.PROCESSED
    source = EventSource.RELAY
    entitlement_type = "premium_monthly"
    attempts = 1
    payload = factory.LazyAttribute(lambda o: {"telegram_payment_charge_id": o.telegram_payment_charge_id})
    processed_at = factory.LazyFunction(timezone.now)


class EntitlementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entitlement

    user_id = 1001
    entitlement_type = "premium_monthly"
    event_id = factory.Sequence(lambda n: f"tg_stars:payment:factory_{n}")
    starts_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=30))


def default_bot_pk() -> int:
    """The default bot's pk (the customer pages' URLs name their bot)."""
    from telegram_payments.registry import bots

    return bots.default().pk


def customer_page(user_id: int) -> str:
    """The customer page of `user_id` with the default bot."""
    from django.urls import reverse

    return reverse("admin:telegram_payments_customer_bot", args=[default_bot_pk(), user_id])
