"""Numbers given to management commands (payments_project/argtypes.py): out of range is a
CommandError naming the argument, before anything is read or changed; never an OverflowError."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from entitlements.models import Entitlement, OutboxMessage
from telegram_payments.models import StripeEvent

pytestmark = pytest.mark.django_db

TWENTY_DIGITS = "1" * 20
GRANT = ["premium_monthly", "--reason", "support case"]

BAD_ARGUMENTS = [
    ("replay_events", ["--pending", "--older-than", "99999999999"], "--older-than"),
    ("replay_events", ["--pending", "--older-than", "-1"], "--older-than"),
    ("grant_entitlement", ["7", *GRANT, "--days", "1000000000"], "--days"),
    ("grant_entitlement", ["7", *GRANT, "--days", "0"], "--days"),
    ("grant_entitlement", [TWENTY_DIGITS, *GRANT], "USER_ID"),
    ("grant_entitlement", ["0", *GRANT], "USER_ID"),
    ("grant_entitlement", ["-5", *GRANT], "USER_ID"),
    ("grant_entitlement", ["7.5", *GRANT], "USER_ID"),
    ("revoke_entitlement", [TWENTY_DIGITS, *GRANT], "USER_ID"),
    ("revoke_entitlement", ["0", *GRANT], "USER_ID"),
    ("entitlements", [TWENTY_DIGITS], "USER_ID"),
    ("entitlements", ["-5"], "USER_ID"),
    ("subscription", [TWENTY_DIGITS, "charge", "--cancel"], "user_id"),
    ("create_invoice_link", ["premium_monthly", "--user", TWENTY_DIGITS], "--user"),
    ("create_invoice_link", ["premium_monthly", "--user", "0"], "--user"),
    ("prune_events", ["--older-than", "1000000000"], "--older-than"),
    ("prune_events", ["--batch-size", "1" * 30], "--batch-size"),
    ("reconcile_stars", ["--page-size", "1" * 30], "--page-size"),
    ("prune_outbox", ["--older-than", "1000000000"], "--older-than"),
    ("prune_outbox", ["--batch-size", "1" * 30], "--batch-size"),
    ("prune_outbox", ["--older-than", "0"], "--older-than"),
    ("deliver_outbox", ["--once", "--poll-interval", "nan"], "--poll-interval"),
    ("deliver_outbox", ["--once", "--poll-interval", "-1"], "--poll-interval"),
    ("deliver_outbox", ["--once", "--backoff-base", "inf"], "--backoff-base"),
    ("deliver_outbox", ["--once", "--backoff-base", "nan"], "--backoff-base"),
    ("deliver_outbox", ["--once", "--backoff-max", "1e308"], "--backoff-max"),
    ("refund_unfulfillable", ["--poll-interval", "-1"], "--poll-interval"),
    ("refund_unfulfillable", ["--once", "--backoff-base", "nan"], "--backoff-base"),
    ("refund_unfulfillable", ["--once", "--backoff-max", "inf"], "--backoff-max"),
    ("refund_unfulfillable", ["--once", "--max-attempts", "0"], "--max-attempts"),
    ("refund_unfulfillable", ["--once", "--max-attempts", "1" * 30], "--max-attempts"),
    # dates that exist in their own offset but not in UTC
    ("replay_events", ["--failed", "--since", "0001-01-01T00:00+01:00"], "--since"),
    ("replay_events", ["--failed", "--until", "9999-12-31T23:59-01:00"], "--until"),
    ("reconcile_stars", ["--since", "0001-01-01T00:00+01:00"], "--since"),
]


def counts():
    return StripeEvent.objects.count(), Entitlement.objects.count(), OutboxMessage.objects.count()


@pytest.mark.parametrize(("command", "args", "argument"), BAD_ARGUMENTS,
                         ids=[f"{c}-{' '.join(a)[:40]}" for c, a, _ in BAD_ARGUMENTS])
def test_a_number_out_of_range_is_a_command_error_naming_the_argument(catalog, stars, fake_bot_api,
                                                                      command, args, argument):
    stars.ENTITLEMENTS_SERVICE_URL = "http://127.0.0.1:9/entitlements"  # deliver_outbox needs one
    before = counts()
    with pytest.raises(CommandError) as caught:
        call_command(command, *args, stdout=StringIO(), stderr=StringIO())
    assert f"argument {argument}" in str(caught.value)
    assert counts() == before
    assert fake_bot_api.calls == []


def test_the_ends_of_the_ranges_are_accepted(catalog):
    out = StringIO()
    call_command("grant_entitlement", str(2**63 - 1), *GRANT, "--days", "36500", stdout=out)
    grant = Entitlement.objects.get()
    assert grant.user_id == 2**63 - 1
    assert (grant.expires_at - grant.starts_at).days == 36500
    call_command("entitlements", str(2**63 - 1), stdout=out)
    call_command("prune_events", "--older-than", "36500", "--batch-size", "1000000", stdout=out, stderr=StringIO())
    call_command("replay_events", "--pending", "--older-than", str(36500 * 24 * 60), stdout=out, stderr=StringIO())
    call_command("replay_events", "--failed", "--since", "0001-01-01", "--until", "9999-12-31T23:59", stdout=out)
    assert Entitlement.objects.count() == 1
