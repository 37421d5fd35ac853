"""The tokens and webhook secrets of bots stored in the database, sealed so that a dump alone reveals none.

Sealed with `cryptography`'s Fernet (AES-128-CBC with an HMAC-SHA256 check, so an altered value is
refused) under `TELEGRAM_STARS["CREDENTIAL_KEYS"]`, a list of Fernet keys, newest first: `seal`
encrypts with the first, `unseal` opens with any, and `reseal` moves a value to the first. Rotation:
put the new key first everywhere, reseal every stored value, then drop the old key. The keys are not
derived from SECRET_KEY, so rotating Django's signing key loses no token.

No message of `CredentialError` holds a plaintext, a sealed value or a key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from telegram_payments.conf import stars_settings

KEYS_SETTING = 'TELEGRAM_STARS["CREDENTIAL_KEYS"]'
NO_KEYS = (
    f"{KEYS_SETTING} is empty: no key to seal or unseal a bot's token and secret with. Set it to a list of "
    "Fernet keys, newest first (the example project reads them, comma-separated, from TELEGRAM_CREDENTIAL_KEYS); "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" makes one.'
)


class CredentialError(Exception):
    """No keys, a malformed key, or a sealed value that none of the keys opens."""


def seal(plaintext: str) -> str:
    """`plaintext` encrypted under the newest key, as url-safe base64 text."""
    if not isinstance(plaintext, str):
        raise TypeError(f"seal() takes a str, not {type(plaintext).__name__}")
    return _multi(_configured_keys()).encrypt(plaintext.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The plaintext of a value `seal` made under any of the keys."""
    try:
        return _multi(_configured_keys()).decrypt(_token(sealed)).decode()
    except InvalidToken:
        raise _cannot_open() from None


def reseal(sealed: str) -> str:
    """`sealed` encrypted again under the newest key, for a rotation (one already under it gets a new token)."""
    try:
        return _multi(_configured_keys()).rotate(_token(sealed)).decode("ascii")
    except InvalidToken:
        raise _cannot_open() from None


def needs_reseal(sealed: str) -> bool:
    """False when the newest key opens `sealed`, True when only an older one does. A value no key opens
    raises CredentialError, so that a rotation counts it apart from the values it moves."""
    newest, *older = _fernets(_configured_keys())
    token = _token(sealed)
    try:
        newest.decrypt(token)
        return False
    except InvalidToken:
        pass
    if older:
        try:
            MultiFernet(older).decrypt(token)
            return True
        except InvalidToken:
            pass
    raise _cannot_open()


def key_problems(keys) -> list[str]:
    """Why `keys` cannot be CREDENTIAL_KEYS, a sentence per malformed position naming the setting and
    never a key; [] when they can be (an empty list can, while no bot's credentials are stored)."""
    if not isinstance(keys, list | tuple):
        return [f"{KEYS_SETTING} must be a list of Fernet keys, newest first."]
    problems = []
    for position, key in enumerate(keys):
        try:
            if not isinstance(key, str | bytes):
                raise TypeError
            Fernet(key)
        except (TypeError, ValueError):  # not text; not base64 (binascii.Error is a ValueError), or not 32 bytes
            problems.append(f"{KEYS_SETTING}[{position}] is not a Fernet key (32 url-safe base64-encoded bytes).")
    return problems


def _configured_keys() -> tuple:
    keys = stars_settings.CREDENTIAL_KEYS
    if isinstance(keys, list | tuple) and not keys:
        raise CredentialError(NO_KEYS)
    if not isinstance(keys, list | tuple) or not all(isinstance(key, str | bytes) for key in keys):
        raise CredentialError(" ".join(key_problems(keys)))
    return tuple(keys)


@lru_cache(maxsize=8)
def _fernets(keys: tuple) -> tuple[Fernet, ...]:
    """One Fernet per key, made once per tuple of keys (a changed setting is another tuple)."""
    problems = key_problems(keys)
    if problems:
        raise CredentialError(" ".join(problems))
    return tuple(Fernet(key) for key in keys)


@lru_cache(maxsize=8)
def _multi(keys: tuple) -> MultiFernet:
    return MultiFernet(_fernets(keys))


def _token(sealed) -> bytes:
    if isinstance(sealed, bytes):
        return sealed
    if isinstance(sealed, str):
        return sealed.encode("ascii", "replace")  # no token holds a non-ASCII character: it fails the check
    raise TypeError(f"a sealed credential is a str, not {type(sealed).__name__}")


def _cannot_open() -> CredentialError:
    count = len(_configured_keys())
    return CredentialError(
        f"A sealed credential opens with none of the {count} key{'s' if count != 1 else ''} of {KEYS_SETTING}: "
        "the key it was sealed under is not among them, or the stored value was altered.")
