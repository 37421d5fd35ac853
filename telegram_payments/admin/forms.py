"""The forms of the confirmation pages: refund, subscription renewals, and the customer page's grant,
revoke and replay; each with a required reason."""

from django import forms

from telegram_payments.admin.mixins import reason_field


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
    """Grant or extend an entitlement by hand (what `manage.py grant_entitlement` does)."""

    entitlement_type = forms.ChoiceField(label="Entitlement", help_text="From the catalog.")
    days = forms.IntegerField(
        min_value=1, max_value=3660, initial=30,
        help_text="Stacks after what the user already has of this type: a running grant is extended.",
    )
    reason = reason_field("Why. Recorded on the grant's audit event with your name.")

    def __init__(self, *args, entitlement_types: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entitlement_type"].choices = entitlement_types


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
