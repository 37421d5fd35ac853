"""The one settings object of the distribution, after DRF's `api_settings`.

A project configures both apps with one dict, `TELEGRAM_STARS` in its settings; every key has a
default, so a project sets only what differs. Each app reads its own keys through an `AppSettings`
made with its defaults (`entitlements_settings` here, `telegram_payments.conf.stars_settings`),
and values are read on access, so a test's `override_settings(TELEGRAM_STARS=...)` applies at once.
"""

from django.conf import settings
from django.core.signals import setting_changed

SETTING_NAME = "TELEGRAM_STARS"


class AppSettings:
    """Attribute access to the keys of `settings.TELEGRAM_STARS` named in `defaults`, defaults filled in."""

    def __init__(self, defaults: dict):
        self.defaults = defaults
        self._cached: dict = {}
        setting_changed.connect(self._reload_on_change, weak=False)

    def user_settings(self) -> dict:
        """The project's dict (empty when it sets none; not a dict is reported by the system check)."""
        value = getattr(settings, SETTING_NAME, None)
        return value if isinstance(value, dict) else {}

    def __getattr__(self, name: str):
        if name.startswith("_") or name not in self.defaults:
            raise AttributeError(f"{SETTING_NAME} has no key {name!r}")
        try:
            return self._cached[name]
        except KeyError:
            value = self._cached[name] = self.user_settings().get(name, self.defaults[name])
            return value

    def reload(self) -> None:
        self._cached.clear()

    def _reload_on_change(self, *, setting, **kwargs):
        if setting == SETTING_NAME:
            self.reload()


ENTITLEMENTS_DEFAULTS = {
    # Where grants and revokes are POSTed (the outbox), and the HMAC-SHA256 key signing them;
    # empty URL: no outbox messages are written.
    "ENTITLEMENTS_SERVICE_URL": "",
    "ENTITLEMENTS_SERVICE_SECRET": "",
}

entitlements_settings = AppSettings(ENTITLEMENTS_DEFAULTS)
