import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from telegram_payments.telegram_api.limits import (
    CHARGE_ID_LENGTH,
    ENTITLEMENT_TYPE_LENGTH,
    INVOICE_PAYLOAD_LENGTH,
    ISSUED_PAYLOAD_LENGTH,
    QUERY_ID_LENGTH,
)

PAYMENT_METHOD = "telegram_stars"
STARS_CURRENCY = "XTR"
EVENT_PAYMENT = "telegram_stars.successful_payment"
EVENT_REFUND = "telegram_stars.refund"
EVENT_SUBSCRIPTION = "telegram_stars.subscription_updated"


class EventStatus(models.IntegerChoices):
    # Values fixed by the original spec's stripe_events table.
    PENDING = 0, "pending"
    PROCESSED = 1, "processed"
    FAILED = 2, "failed"


# What staff may run again: failed, or stuck pending (a processed event is never applied twice).
REPLAYABLE_STATUSES = (EventStatus.FAILED, EventStatus.PENDING)


class EventSource(models.TextChoices):
    TELEGRAM = "telegram", "Telegram update"
    RELAY = "relay", "Relay endpoint"
    STAFF = "staff", "Staff (admin)"
    RECONCILIATION = "reconciliation", "Reconciliation"
    MANUAL = "manual", "Manual (operator)"
    REPLAY = "replay", "Replayed update (operator)"
    POLICY = "policy", "Automatic refund (policy)"


class StripeEvent(models.Model):
    """The audit trail: one row per payment or refund event, whatever route it arrived by.

    The table keeps the original spec's name and columns (`stripe_events`); `event_id` is unique and
    is what makes each event happen once. Rows are written by services only, never edited by hand.
    """

    event_id = models.CharField(max_length=255)  # unique: see Meta.constraints
    event_type = models.CharField(max_length=100)
    payment_method = models.CharField(max_length=50, default=PAYMENT_METHOD)
    customer_id = models.CharField(max_length=36, help_text="Telegram user id of the buyer.")
    amount_cents = models.IntegerField(null=True, blank=True, help_text="For XTR: whole Stars.")
    currency = models.CharField(max_length=3, default=STARS_CURRENCY)
    status = models.IntegerField(choices=EventStatus.choices, default=EventStatus.PENDING)

    source = models.CharField(max_length=20, choices=EventSource.choices)
    update_id = models.BigIntegerField(null=True, blank=True)  # not looked up: events key on the charge
    telegram_payment_charge_id = models.CharField(max_length=CHARGE_ID_LENGTH)  # indexed: see Meta.indexes
    provider_payment_charge_id = models.CharField(max_length=CHARGE_ID_LENGTH, blank=True, default="")
    invoice_payload = models.CharField(max_length=INVOICE_PAYLOAD_LENGTH, blank=True, default="")
    entitlement_type = models.CharField(max_length=ENTITLEMENT_TYPE_LENGTH, blank=True, default="")
    subscription_expires_at = models.DateTimeField(null=True, blank=True)
    refund_reason = models.TextField(blank=True, default="")
    initiated_by = models.ForeignKey(  # indexed only where set: see Meta.indexes
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    payload = models.JSONField(default=dict, help_text="The body as received.")
    error = models.TextField(blank=True, default="")
    note = models.TextField(blank=True, default="", help_text="What processing did, in words.")
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "stripe_events"
        verbose_name = "audit event"
        verbose_name_plural = "Payments & refunds"  # the audit trail's name on the admin's index
        # Ids are only ever matched exactly: constraints and indexes declared here, unlike unique=True or
        # db_index=True on a CharField, add no second PostgreSQL index for prefix searches (LIKE).
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="stripe_events_event_id_unique"),
            models.CheckConstraint(condition=Q(status__in=[0, 1, 2]), name="stripe_event_status_known"),
        ]
        indexes = [
            models.Index(fields=["telegram_payment_charge_id"], name="stripe_events_charge"),
            # The events waiting for staff (failed, or pending and maybe stuck): nearly every event is
            # processed, and those add nothing to this index.
            models.Index(fields=["status", "received_at"], name="stripe_events_unsettled",
                         condition=Q(status__in=[EventStatus.PENDING, EventStatus.FAILED])),
            models.Index(fields=["customer_id"], name="stripe_events_customer"),
            # Staff refunds only: the other events (nearly all) add nothing to this index.
            models.Index(fields=["initiated_by"], name="stripe_events_initiated_by",
                         condition=Q(initiated_by__isnull=False)),
        ]
        permissions = [
            ("refund_payment", "Can refund a Telegram Stars payment"),
            ("manage_subscription", "Can stop or resume a Star subscription's renewals"),
            ("grant_entitlement", "Can grant or extend an entitlement by hand"),
            ("resolve_failure", "Can dismiss a failed payment with a reason"),
        ]

    def __str__(self):
        return self.event_id

    @property
    def is_payment(self) -> bool:
        return self.event_type == EVENT_PAYMENT

    @property
    def is_refund(self) -> bool:
        return self.event_type == EVENT_REFUND

    @property
    def is_subscription_update(self) -> bool:
        return self.event_type == EVENT_SUBSCRIPTION


class Customer(models.Model):
    """A Telegram user as last seen in their Updates: for the support desk's customer page.

    One upsert per live Update that carries a user (`payments.customers.remember`); never a Bot API call.
    """

    user_id = models.BigIntegerField()  # unique: see Meta.constraints
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    username = models.CharField(max_length=255, blank=True, default="", help_text="Without the @.")
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id"], name="customer_user_id_unique")]

    def __str__(self):
        return f"{self.user_id}"

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Product(models.Model):
    """The catalog: what the bot sells, for how many Stars, granting which entitlement for how long."""

    entitlement_type = models.SlugField(max_length=ENTITLEMENT_TYPE_LENGTH, unique=True)
    title = models.CharField(max_length=32, help_text="Shown on the invoice (Telegram: 1-32 characters).")
    description = models.CharField(max_length=255, help_text="Shown on the invoice (1-255 characters).")
    price_stars = models.PositiveIntegerField()
    duration_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: lifetime.")
    is_subscription = models.BooleanField(
        default=False, help_text="Renews every 30 days through Telegram (invoice links only)."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_stars"]
        constraints = [
            models.CheckConstraint(condition=Q(price_stars__gte=1), name="product_price_positive"),
        ]

    def __str__(self):
        return f"{self.title} ({self.price_stars} XTR)"


def new_invoice_payload() -> str:
    return f"inv_{secrets.token_urlsafe(12)}"


class InvoiceStatus(models.TextChoices):
    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"


class Invoice(models.Model):
    """A Stars invoice we issued. Its `payload` is what Telegram hands back on pre-checkout and payment.

    An invoice can be paid more than once (forwarded copies), so payments key on the charge id.
    """

    # unique: see Meta.constraints
    payload = models.CharField(max_length=ISSUED_PAYLOAD_LENGTH, default=new_invoice_payload)
    user_id = models.BigIntegerField(null=True, blank=True, help_text="Empty: anyone may pay (a link).")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="invoices")
    price_stars = models.PositiveIntegerField(help_text="The price when the invoice was issued.")
    subscription_period = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds.")
    link = models.CharField(max_length=255, blank=True, default="", help_text="An invoice link's URL.")
    update_id = models.BigIntegerField(null=True, blank=True, help_text="The chat update that asked for it.")
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["payload"], name="invoice_payload_unique")]
        indexes = [models.Index(fields=["user_id"], name="invoice_user")]

    def __str__(self):
        return self.payload


class PreCheckoutAnswer(models.Model):
    """Each answer we gave to a pre-checkout query: approved, or declined with the reason shown to the user.

    `query_id` is unique, so a redelivered query gets the answer recorded the first time.
    """

    query_id = models.CharField(max_length=QUERY_ID_LENGTH)  # unique: see Meta.constraints
    update_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    user_id = models.BigIntegerField(help_text="Telegram user id of the buyer.")
    invoice_payload = models.CharField(max_length=INVOICE_PAYLOAD_LENGTH, blank=True, default="")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="pre_checkout_answers"
    )
    currency = models.CharField(max_length=3)
    total_amount = models.IntegerField()
    ok = models.BooleanField()
    reason = models.CharField(max_length=32, blank=True, default="", help_text="Why it was declined (a code).")
    error_message = models.CharField(max_length=255, blank=True, default="", help_text="Shown to the user.")
    payload = models.JSONField(default=dict, help_text="The pre_checkout_query as received.")
    answered_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["query_id"], name="pre_checkout_query_id_unique"),
            models.CheckConstraint(
                condition=Q(ok=True, reason="", error_message="")
                | (Q(ok=False) & ~Q(reason="") & ~Q(error_message="")),
                name="pre_checkout_answer_declined_has_reason",
            ),
        ]
        # The support desk's customer page lists a user's answers.
        indexes = [models.Index(fields=["user_id"], name="pre_checkout_user")]

    def __str__(self):
        return f"{self.query_id}: {'ok' if self.ok else self.reason}"


class StarBalance(models.Model):
    """The bot's Stars balance as `getMyStarBalance` last reported it: one row, written by
    `refresh_star_balance` (cron, or staff's "refresh now"), read by the admin without calling Telegram."""

    nanostars = models.BigIntegerField(null=True, blank=True, help_text="Empty until Telegram first answered.")
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When Telegram reported `nanostars`.")
    attempted_at = models.DateTimeField(null=True, blank=True, help_text="The last call, answered or not.")
    error = models.CharField(max_length=255, blank=True, default="", help_text="Why the last call failed.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="star_balance_single_row")]

    def __str__(self):
        return f"Star balance as of {self.fetched_at}"


class RefundEvent(StripeEvent):
    """The refund events of the audit trail, for the admin's "Refunds" list (same table, no new rows)."""

    class Meta:
        proxy = True
        verbose_name = "refund"
        verbose_name_plural = "refunds"


class SubscriptionState(models.TextChoices):
    RENEWING = "renewing", "renewing"
    CANCELLED = "cancelled", "cancelled by the user"
    RENEWAL_FAILED = "renewal_failed", "renewal failed"
    STOPPED = "stopped", "stopped by staff"


class Subscription(models.Model):
    """The current state of one Star subscription: one user's subscription to one invoice (link) we issued.

    The audit trail keeps every change (payments, `telegram_stars.subscription_updated` events); this row
    keeps only where it stands now. Written by `payments.subscriptions` only, under a row lock.
    """

    user_id = models.BigIntegerField(help_text="Telegram user id of the subscriber.")
    invoice_payload = models.CharField(max_length=INVOICE_PAYLOAD_LENGTH, help_text="The invoice (link) subscribed to.")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=20, choices=SubscriptionState.choices, default=SubscriptionState.RENEWING)
    source = models.CharField(max_length=20, choices=EventSource.choices, help_text="Who set the state.")
    paid_until = models.DateTimeField(null=True, blank=True, help_text="End of the last period paid for.")
    last_event_id = models.CharField(max_length=255, blank=True, default="",
                                     help_text="The audit event that set the state (empty: a staff action).")
    last_update_id = models.BigIntegerField(
        null=True, blank=True, help_text="The newest Bot API update applied: an older one changes nothing.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "invoice_payload"], name="subscription_user_invoice_unique"),
        ]

    def __str__(self):
        return f"{self.user_id} / {self.invoice_payload}: {self.state}"


class BuyerMessage(models.Model):
    """A message to a buyer that must go out at most once (a thank-you after a replay or a staff grant,
    the reason for an automatic refund).

    `key` is unique (e.g. `delivered:<event_id>`): the row is written in the transaction of what it
    tells, and only the one sender that claims it (attempts 0 -> 1) calls the Bot API, after that
    transaction committed. A failed send is recorded in `error`, not retried: a late thank-you twice is
    worse than none.
    """

    key = models.CharField(max_length=255)  # unique: see Meta.constraints
    chat_id = models.BigIntegerField(help_text="Telegram user id of the buyer (their private chat).")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "telegram_buyer_messages"
        constraints = [models.UniqueConstraint(fields=["key"], name="buyer_message_key_unique")]

    def __str__(self):
        return self.key


class AutoRefund(models.Model):
    """A failed payment nobody can fulfil, to be refunded by `manage.py refund_unfulfillable`
    (`AUTO_REFUND_UNFULFILLABLE`). Written with the failed payment; retried with backoff."""

    payment = models.OneToOneField(StripeEvent, on_delete=models.CASCADE, related_name="auto_refund")
    reason = models.TextField(help_text="Why it cannot be fulfilled (recorded on the refund).")
    buyer_reason = models.CharField(max_length=255, blank=True, default="", help_text="Why, told to the buyer.")
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempt_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True, default="", help_text="What the worker did, in words.")

    class Meta:
        db_table = "telegram_auto_refunds"
        indexes = [
            models.Index(fields=["next_attempt_at"], name="auto_refund_due", condition=Q(done_at__isnull=True)),
        ]

    def __str__(self):
        return f"auto refund of {self.payment_id}"


class ResolutionKind(models.TextChoices):
    FULFILLED = "fulfilled", "fulfilled by a staff grant"
    DISMISSED = "dismissed", "dismissed"


class FailureResolution(models.Model):
    """How a failed payment ended when it was not refunded: fulfilled by a staff grant (`grant_event`,
    its manual audit event) or dismissed, each with who and why (`telegram_payments.payments.failures`). A
    failed payment with neither this nor a recorded refund is open: it counts as failing."""

    payment = models.OneToOneField(StripeEvent, on_delete=models.PROTECT, related_name="resolution")
    kind = models.CharField(max_length=10, choices=ResolutionKind.choices)
    grant_event = models.ForeignKey(StripeEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    help_text="The staff grant that fulfilled it.")
    reason = models.TextField()
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    resolved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "telegram_failure_resolutions"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="dismissed", grant_event__isnull=True)
                | Q(kind="fulfilled", grant_event__isnull=False),
                name="failure_resolution_grant_iff_fulfilled"),
        ]

    def __str__(self):
        return f"{self.payment_id} {self.kind}"
