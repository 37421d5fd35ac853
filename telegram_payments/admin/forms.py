"""The forms of the confirmation pages: refund, subscription renewals, and the customer page's grant,
revoke and replay; each with a required reason."""

from django import forms

from telegram_payments.admin.mixins import reason_field
from telegram_payments.models import Product
from telegram_payments.payments.manual import ManualActionRefused, grant_days


class RefundForm(forms.Form):
    reason = reason_field("Why this payment is refunded. Recorded on the refund and in the admin log.")


class SubscriptionRenewalsForm(forms.Form):
    STOP, RESUME = "stop", "resume"
    renewals = forms.ChoiceField(
        choices=[
            (STOP, "Stop renewals: the user keeps what is paid for until the period ends, then it lapses"),
            (RESUME, "Resume renewals (only a subscription this bot stopped can be resumed)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = reason_field("Why. Recorded in this payment's history (admin log) with your name.")


class GrantForm(forms.Form):
    """Grant or extend an entitlement by hand (what `manage.py grant_entitlement` does). No type is
    chosen for the user, and Days is empty: the product's own period, or for life; days are taken only
    by a product with a period (`manual.grant_days`, the rule the service applies too)."""

    entitlement_type = forms.ChoiceField(label="Entitlement", help_text="From the catalog, with its period.")
    days = forms.IntegerField(
        required=False, min_value=1, max_value=3660,
        help_text="Empty: the product's period. Only a product with a period takes days; a grant stacks after "
                  "what the user already has of this type (a running grant is extended).",
    )
    fulfils = forms.IntegerField(required=False, widget=forms.HiddenInput)
    reason = reason_field("Why. Recorded on the grant's audit event with your name.")

    def __init__(self, *args, products: list[Product], **kwargs):
        super().__init__(*args, **kwargs)
        self.products = {p.entitlement_type: p for p in products}
        self.fields["entitlement_type"].choices = [("", "— choose —")] + [
            (p.entitlement_type, f"{p.title} ({p.entitlement_type}): "
                                 + (f"{p.duration_days} days" if p.duration_days else "for life"))
            for p in products
        ]

    def clean(self):
        data = super().clean()
        product = self.products.get(data.get("entitlement_type"))
        if product is not None and "days" in data:
            try:
                data["days"] = grant_days(product, data["days"])
            except ManualActionRefused as exc:
                self.add_error("days", str(exc))
        return data


class DismissForm(forms.Form):
    reason = reason_field("Why this failed payment needs neither a grant nor a refund (e.g. settled by hand). "
                          "Recorded on the payment with your name.")


class RevokeTypeForm(forms.Form):
    """Revoke every running or waiting grant of one type (what `manage.py revoke_entitlement` does)."""

    entitlement_type = forms.ChoiceField(label="Entitlement")
    reason = reason_field("Why. Recorded on the revoke's audit event and on each grant, with your name.")

    def __init__(self, *args, entitlement_types: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entitlement_type"].choices = entitlement_types


class ReplayForm(forms.Form):
    reason = reason_field("Why it should go through now (e.g. the product is back on sale). Recorded in the "
                          "event's history with your name.")
