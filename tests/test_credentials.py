"""Bots' tokens and secrets sealed at rest (telegram_payments.registry.credentials): a sealed value
shows nothing of its plaintext, an altered one is refused, keys rotate, and no error message shows a
plaintext or a key."""

import pytest
from cryptography.fernet import Fernet

from telegram_payments.registry.credentials import CredentialError, needs_reseal, reseal, seal, unseal

TOKEN = "987654321:AAH-sealed-token-never-real_abcdefghijk"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def keys(stars):
    stars.CREDENTIAL_KEYS = [NEW_KEY]
    return stars


def test_a_sealed_value_unseals_to_its_plaintext_and_does_not_contain_it(keys):
    sealed = seal(TOKEN)
    assert unseal(sealed) == TOKEN
    assert TOKEN not in sealed and "sealed-token" not in sealed
    assert seal(TOKEN) != sealed  # a fresh IV each time: equal tokens do not look equal
    assert unseal(seal("")) == "" and unseal(seal("héllo ✓")) == "héllo ✓"


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-5] + ("A" if s[-5] != "A" else "B") + s[-4:],  # one character of the HMAC
    lambda s: s[:30] + ("A" if s[30] != "A" else "B") + s[31:],  # one character of the ciphertext
    lambda s: s[:-10],
    lambda s: "",
    lambda s: "not a sealed value",
    lambda s: "sé" + s,
])
def test_an_altered_value_is_refused(keys, tamper):
    sealed = tamper(seal(TOKEN))
    with pytest.raises(CredentialError, match="opens with none of the 1 key of"):
        unseal(sealed)
    with pytest.raises(CredentialError):
        reseal(sealed)
    with pytest.raises(CredentialError):
        needs_reseal(sealed)


def test_a_value_sealed_under_another_key_is_refused(stars):
    stars.CREDENTIAL_KEYS = [OLD_KEY]
    sealed = seal(TOKEN)
    stars.CREDENTIAL_KEYS = [NEW_KEY]
    with pytest.raises(CredentialError) as error:
        unseal(sealed)
    assert TOKEN not in str(error.value) and sealed not in str(error.value) and NEW_KEY not in str(error.value)
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_rotation_new_key_first_then_reseal_then_drop_the_old_key(stars):
    stars.CREDENTIAL_KEYS = [OLD_KEY]
    under_old = seal(TOKEN)
    assert needs_reseal(under_old) is False

    stars.CREDENTIAL_KEYS = [NEW_KEY, OLD_KEY]
    assert unseal(under_old) == TOKEN
    assert needs_reseal(under_old) is True
    under_new = reseal(under_old)
    assert needs_reseal(under_new) is False
    assert seal(TOKEN) and needs_reseal(seal(TOKEN)) is False  # new values go under the newest key

    stars.CREDENTIAL_KEYS = [NEW_KEY]
    assert unseal(under_new) == TOKEN
    with pytest.raises(CredentialError, match="opens with none of the 1 key of"):
        unseal(under_old)


def test_a_change_of_keys_applies_at_once(stars):
    """The Fernets are cached per tuple of keys: a changed setting is never served by the old ones."""
    stars.CREDENTIAL_KEYS = [OLD_KEY]
    sealed = seal(TOKEN)
    stars.CREDENTIAL_KEYS = [NEW_KEY]
    with pytest.raises(CredentialError):
        unseal(sealed)
    stars.CREDENTIAL_KEYS = (OLD_KEY.encode(),)  # a tuple, and keys as bytes, serve as well
    assert unseal(sealed) == TOKEN


@pytest.mark.parametrize("call", [lambda: seal(TOKEN), lambda: unseal("gAAAAA"), lambda: reseal("gAAAAA"),
                                  lambda: needs_reseal("gAAAAA")])
def test_no_keys_configured_is_an_error_naming_the_setting(stars, call):
    assert stars.CREDENTIAL_KEYS == []  # the default
    with pytest.raises(CredentialError) as error:
        call()
    message = str(error.value)
    assert 'TELEGRAM_STARS["CREDENTIAL_KEYS"] is empty' in message and "TELEGRAM_CREDENTIAL_KEYS" in message
    assert "Fernet.generate_key()" in message and TOKEN not in message


@pytest.mark.parametrize(("configured", "position"), [
    ([NEW_KEY, "not-a-key"], 1),
    (["x" * 44, NEW_KEY], 0),  # 44 characters of base64, but 33 bytes
    ([NEW_KEY, NEW_KEY[:-2]], 1),  # cut short: bad padding
    ([NEW_KEY, None], 1),
])
def test_a_malformed_key_is_an_error_naming_its_position_not_its_value(stars, configured, position):
    stars.CREDENTIAL_KEYS = configured
    with pytest.raises(CredentialError) as error:
        seal(TOKEN)
    message = str(error.value)
    assert f'TELEGRAM_STARS["CREDENTIAL_KEYS"][{position}] is not a Fernet key' in message
    assert all(str(key) not in message for key in configured) and TOKEN not in message


def test_keys_that_are_not_a_list_are_an_error(stars):
    stars.CREDENTIAL_KEYS = NEW_KEY  # one string, not a list of one
    with pytest.raises(CredentialError, match="must be a list of Fernet keys") as error:
        seal(TOKEN)
    assert NEW_KEY not in str(error.value)


def test_only_text_is_sealed_and_unsealed(keys):
    with pytest.raises(TypeError):
        seal(TOKEN.encode())
    with pytest.raises(TypeError):
        unseal(None)
