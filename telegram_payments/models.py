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


def new_webhook_path() -> str:
    """An unguessable path segment for a bot's webhook URL (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


class Bot(models.Model):
    """A Telegram bot this deployment serves, with its own webhook path, secret, catalog and data.

    The default bot (`is_default`, created by migration) is the one configured in `TELEGRAM_STARS`
    (`BOT_TOKEN`, `WEBHOOK_SECRET`, `WEBHOOK_URL`): its credentials are read from the settings on every
    use, and its event ids, locks and entitlement scope are those of a deployment with one bot. Other
    bots are added in the admin (`registry.services.add_bot`): their token and secret are stored sealed
    (`registry.credentials`, keys from the environment), so a database dump alone reveals neither.
    Never deleted (every row of a bot's data points at it); deactivate it instead.
    """

    name = models.CharField(max_length=100, help_text="What staff call it.")
    slug = models.SlugField(max_length=40, unique=True, help_text="Its name in commands (--bot), filters and metrics.")
    telegram_id = models.BigIntegerField(null=True, blank=True, unique=True, editable=False,
                                         help_text="The bot's user id, from getMe.")
    username = models.CharField(max_length=64, blank=True, default="", editable=False, help_text="From getMe.")
    is_default = models.BooleanField(default=False, editable=False)
    token_sealed = models.TextField(blank=True, default="", editable=False)
    secret_sealed = models.TextField(blank=True, default="", editable=False)
    webhook_path = models.CharField(max_length=64, unique=True, default=new_webhook_path, editable=False)
    # Fixed at creation: "" for the default bot; its Telegram id for another (ids and locks: "bot<id>:",
    # entitlements: "bot:<id>"), so two bots' charges, updates and grants never meet.
    event_namespace = models.CharField(max_length=40, unique=True, editable=False)
    entitlement_scope = models.CharField(max_length=40, unique=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="An inactive bot's webhook answers 404.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    token_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, through="BotMembership", blank=True,
                                   related_name="telegram_bots", help_text="Staff who see this bot's data.")

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="bot_one_default"),
            models.CheckConstraint(condition=Q(is_default=True) | (~Q(token_sealed="") & ~Q(secret_sealed="")),
                                   name="bot_credentials_sealed"),
        ]
        permissions = [("view_all_bots", "Can see the data of every bot")]

    def __str__(self):
        return self.name

    def token(self) -> str:
        """The bot's token, in clear, for a Bot API call (never shown, logged or stored in clear)."""
        if self.is_default:
            from telegram_payments.conf import stars_settings

            return stars_settings.BOT_TOKEN
        from telegram_payments.registry.credentials import unseal

        return unseal(self.token_sealed)

    def webhook_secret(self) -> str:
        """The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token to this bot's webhook."""
        if self.is_default:
            from telegram_payments.conf import stars_settings

            return stars_settings.WEBHOOK_SECRET
        from telegram_payments.registry.credentials import unseal

        return unseal(self.secret_sealed)


class BotMembership(models.Model):
    """A staff member who may see one bot's data in the admin (superusers and holders of
    `view_all_bots` see every bot's)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bot_memberships")
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "bot"], name="bot_membership_unique")]

    def __str__(self):
        return f"{self.user} sees {self.bot}"


def default_bot_id() -> int:
    """The default bot's pk: what a product created without a bot (fixtures, a host's code) belongs to."""
    from telegram_payments.registry import bots

    return bots.default().pk


def _bot(**options):
    """The foreign key from a row of a bot's data to its bot (never deleted: PROTECT). Its default, the
    default bot, serves fixtures and a host's own code; the app's routes always name the bot (the
    several-bots tests make the default bot unreachable to prove it)."""
    return models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="+", default=default_bot_id, **options)


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

    event_id = models.CharField(max_length=255)  # unique: see Meta.constraints (it names the bot: events.py)
    bot = _bot(db_index=False)  # indexed with received_at: see Meta.indexes
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
            models.Index(fields=["customer_id", "bot"], name="stripe_events_customer_bot"),
            models.Index(fields=["bot", "received_at"], name="stripe_events_bot_received"),
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

    bot = _bot(db_index=False)  # first column of the unique (bot, user_id)
    user_id = models.BigIntegerField()  # unique per bot: see Meta.constraints
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    username = models.CharField(max_length=255, blank=True, default="", help_text="Without the @.")
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "user_id"], name="customer_bot_user_unique")]
        indexes = [models.Index(fields=["user_id"], name="customer_user")]

    def __str__(self):
        return f"{self.user_id}"

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Product(models.Model):
    """The catalog: what the bot sells, for how many Stars, granting which entitlement for how long."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="products", default=default_bot_id,
                            db_index=False)  # first column of the unique (bot, entitlement_type)
    entitlement_type = models.SlugField(max_length=ENTITLEMENT_TYPE_LENGTH)  # unique per bot: Meta.constraints
    title = models.CharField(max_length=32, help_text="Shown on the invoice (Telegram: 1-32 characters).")
    description = models.CharField(max_length=255, help_text="Shown on the invoice (1-255 characters).")
    price_stars = models.PositiveIntegerField()
    duration_days = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: lifetime.")
    is_subscription = models.BooleanField(
        default=False, help_text="Renews every 30 days through Telegram (invoice links only)."
    )
    shared_access = models.SlugField(
        max_length=30, blank=True, default="",
        help_text="Empty: what it grants counts for this bot only. A name: it counts for every bot whose "
        "products share that name (e.g. one subscription across a studio's bots).")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_stars"]
        constraints = [
            models.CheckConstraint(condition=Q(price_stars__gte=1), name="product_price_positive"),
            models.UniqueConstraint(fields=["bot", "entitlement_type"], name="product_bot_type_unique"),
        ]

    def __str__(self):
        return f"{self.title} ({self.price_stars} XTR)"

    @property
    def entitlement_scope(self) -> str:
        """Whose access a purchase of it grants (`entitlements.Entitlement.scope`): the bot's, or shared."""
        from telegram_payments.registry import bots

        return f"shared:{self.shared_access}" if self.shared_access else bots.get(self.bot_id).entitlement_scope


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
    bot = _bot()  # its product's bot
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

    bot = _bot(db_index=False)  # first column of the unique (bot, query_id)
    query_id = models.CharField(max_length=QUERY_ID_LENGTH)  # unique per bot: see Meta.constraints
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
            models.UniqueConstraint(fields=["bot", "query_id"], name="pre_checkout_bot_query_unique"),
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
    """A bot's Stars balance as `getMyStarBalance` last reported it: one row per bot, written by
    `refresh_star_balance` (cron, or staff's "refresh now"), read by the admin without calling Telegram."""

    bot = models.OneToOneField(Bot, on_delete=models.PROTECT, related_name="star_balance", default=default_bot_id)
    nanostars = models.BigIntegerField(null=True, blank=True, help_text="Empty until Telegram first answered.")
    fetched_at = models.DateTimeField(null=True, blank=True, help_text="When Telegram reported `nanostars`.")
    attempted_at = models.DateTimeField(null=True, blank=True, help_text="The last call, answered or not.")
    error = models.CharField(max_length=255, blank=True, default="", help_text="Why the last call failed.")

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

    bot = _bot(db_index=False)  # first column of the unique (bot, user_id, invoice_payload)
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
            models.UniqueConstraint(fields=["bot", "user_id", "invoice_payload"],
                                    name="subscription_bot_user_invoice_unique"),
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

    key = models.CharField(max_length=255)  # unique: see Meta.constraints (it names the event, so the bot)
    bot = _bot(db_index=False)  # the bot that sends it
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
