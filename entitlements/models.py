from django.db import models
from django.db.models import Q
from django.utils import timezone


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

    user_id = models.BigIntegerField(db_index=True)
    entitlement_type = models.CharField(max_length=100)
    # The event that granted it (for a purchase, the payment's event id). One grant per event.
    event_id = models.CharField(max_length=255, unique=True)
    granted_at = models.DateTimeField(default=timezone.now)
    starts_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True, default="")

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        db_table = "entitlements"
        indexes = [models.Index(fields=["user_id", "entitlement_type"], name="entitlements_user_type")]
        constraints = [
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
