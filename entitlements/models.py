import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy


class EntitlementQuerySet(models.QuerySet):
    def active(self, at=None):
        """Grants in force at `at` (now): started, not expired, not revoked. Decided at query time."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True, starts_at__lte=at).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at)
        )

    def not_revoked(self):
        return self.filter(revoked_at__isnull=True)


class Entitlement(models.Model):
    """One grant of something a user may use. Knows nothing of how it was paid for.

    Grants of the same type stack: a grant bought while another is running starts when that one
    ends (`starts_at`), so a user's access is the union of their unrevoked grants.
    """

    user_id = models.BigIntegerField()  # indexed by entitlements_user_scope_type, whose first column it is
    entitlement_type = models.CharField(max_length=100)
    # Whose access it is: an opaque name the granting app chooses ("" for one bot, a bot's or a shared
    # scope when one deployment serves several). Grants stack, and access is read, within one scope.
    scope = models.CharField(max_length=64, blank=True, default="")
    # The event that granted it (for a purchase, the payment's event id). One grant per event.
    event_id = models.CharField(max_length=255)  # unique: see Meta.constraints
    granted_at = models.DateTimeField(default=timezone.now)
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True, default="")

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        db_table = "entitlements"
        indexes = [models.Index(fields=["user_id", "scope", "entitlement_type"], name="entitlements_user_scope_type")]
        constraints = [
            # Declared here rather than unique=True: no second PostgreSQL index for prefix searches.
            models.UniqueConstraint(fields=["event_id"], name="entitlements_event_id_unique"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("starts_at")),
                name="entitlement_expires_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.entitlement_type} for {self.user_id}"

    @property
    def state(self) -> str:
        now = timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        if self.starts_at > now:
            return "scheduled"
        return "active"


class OutboxMessage(models.Model):
    """A grant or revoke to deliver to ENTITLEMENTS_SERVICE_URL, written in the same transaction.

    Delivered in `id` order per user by `manage.py deliver_outbox`; a user's later message waits
    while an earlier one is undelivered. `message_id` lets the receiver drop a repeated delivery
    (delivery is at least once: a worker that dies between the POST and its commit sends it again).
    """

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user_id = models.BigIntegerField()
    scope = models.CharField(max_length=64, blank=True, default="", help_text="The grant's scope (Entitlement.scope).")
    kind = models.CharField(max_length=40)  # entitlement.granted, entitlement.revoked
    payload = models.JSONField(help_text="The JSON body POSTed, signed with HMAC-SHA256.")
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempt_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "entitlements_outbox"
        verbose_name = "outbox message"
        indexes = [
            # The worker's question: what is undelivered, per user in order, and what is due.
            models.Index(fields=["user_id", "id"], name="outbox_undelivered_user",
                         condition=Q(delivered_at__isnull=True)),
            models.Index(fields=["next_attempt_at"], name="outbox_undelivered_due",
                         condition=Q(delivered_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.kind} for {self.user_id} ({self.message_id})"


class DeliveryAttempt(models.Model):
    """One POST of an outbox message: what the receiver answered, or why it could not."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: no HTTP answer.")
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    delivered = models.BooleanField(default=False)

    class Meta:
        db_table = "entitlements_delivery_attempts"

    def __str__(self):
        return f"attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S} ({self.status_code or self.error})"


class ServiceToken(TokenProxy):
    """A DRF API token of a service account that reads the entitlements API (admin: create, delete).

    A proxy (of DRF's admin proxy, whose pk is the user's) so that its admin pages never print the whole
    key, which DRF's Token uses as its name and primary key.
    """

    class Meta:
        proxy = True
        verbose_name = "service API token"

    def __str__(self):
        return f"API token of {self.user}"
