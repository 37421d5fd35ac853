"""The forms of the confirmation pages: a refund's reason, a subscription's renewals and reason."""

from django import forms


class RefundForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why this payment is refunded. Recorded on the refund and in the admin log.",
    )


class SubscriptionRenewalsForm(forms.Form):
    STOP, RESUME = "stop", "resume"
    renewals = forms.ChoiceField(
        choices=[
            (STOP, "Stop renewals: the user keeps what is paid for until the period ends, then it lapses"),
            (RESUME, "Resume renewals (only a subscription this bot stopped can be resumed)"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why. Recorded in this payment's history (admin log) with your name.",
    )
