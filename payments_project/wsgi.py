"""The WSGI application (`gunicorn payments_project.wsgi`)."""

import codecs
import os

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIRequest
from django.core.wsgi import get_wsgi_application
from django.utils.http import parse_header_parameters


def _is_text_encoding(charset: str) -> bool:
    """Whether `bytes.decode` takes this codec (it refuses bz2, base64, rot13... by this same flag)."""
    try:
        return getattr(codecs.lookup(charset), "_is_text_encoding", True)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return False


class TextCharsetRequest(WSGIRequest):
    """Django's request, except that a Content-Type charset that is not a text encoding is ignored
    instead of adopted: Django decodes the query string with the request's charset as it builds the
    request, so `?a=b` with `charset=bz2` was a 500 before any view (or secret check) ran. The
    webhooks' parser still reads the declared charset and answers 415 (telegram_payments.webhooks.guards)."""

    def _set_content_type_params(self, meta):
        self.content_type, self.content_params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))
        charset = self.content_params.get("charset")
        if charset is not None and _is_text_encoding(charset):
            self.encoding = charset


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "payments_project.settings")
application = get_wsgi_application()
# gunicorn runs no system checks: refuse to start on a malformed TELEGRAM_STARS setting here, as
# `manage.py check` and runserver would.
_problems = [message for message in checks.run_checks(tags=["telegram_stars"]) if message.is_serious()]
if _problems:
    raise ImproperlyConfigured("\n".join(str(message) for message in _problems))
application.request_class = TextCharsetRequest
