"""manage.py create_dev_admin: a local admin login for a development database (DEBUG=1 only).

The first run creates the superuser `admin` with a random password and prints it, once; later runs
only say that it exists (`manage.py changepassword admin` sets a new password).
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the development superuser `admin` with a random password, printed once. DEBUG=1 only."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/", help="where the admin is, for the message")

    def handle(self, *args, url, **options):
        if not settings.DEBUG:
            raise CommandError("create_dev_admin is for development databases only: it runs with DEBUG=1.")
        users = get_user_model().objects
        if users.filter(username=USERNAME).exists():
            self.stdout.write(f"Admin login: {url} user {USERNAME!r} (its password was printed when it was created; "
                              f"`manage.py changepassword {USERNAME}` sets a new one).")
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username=USERNAME, email="", password=password)
        self.stdout.write(self.style.SUCCESS(
            f"Admin login created: {url} user {USERNAME!r} password {password!r} (shown this once)."))
