"""manage.py rotate_bot_credentials [--dry-run]: reseal the stored bots' tokens and secrets under the
newest of TELEGRAM_STARS["CREDENTIAL_KEYS"], the middle step of a key rotation."""

from django.core.management.base import BaseCommand, CommandError

from telegram_payments.registry.credentials import CredentialError
from telegram_payments.registry.services import reseal_stored_bots


class Command(BaseCommand):
    help = ("Reseal every stored bot's token and secret under the newest key (the first of CREDENTIAL_KEYS), "
            "each bot's row locked meanwhile. A rotation: put the new key first everywhere, run this, then drop "
            "the old key. Prints counts only; exits 1 if some bot's values open with none of the keys.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would be resealed, change nothing")

    def handle(self, *args, dry_run=False, **options):
        try:
            summary = reseal_stored_bots(dry_run=dry_run)
        except CredentialError as exc:
            raise CommandError(str(exc)) from None
        verb = "would be resealed" if dry_run else "resealed"
        self.stdout.write(f"Stored bots: {summary.resealed} {verb}, {summary.current} under the newest key already, "
                          f"{len(summary.unreadable)} that no key opens.")
        if dry_run:
            self.stdout.write("Dry run: nothing changed.")
        if summary.unreadable:
            raise CommandError(f"{len(summary.unreadable)} bot(s) cannot be opened with any of the keys: "
                               f"{', '.join(summary.unreadable)} (a key is missing, or the values were altered).")
