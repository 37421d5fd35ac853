"""The Bot admin (telegram_payments/admin/bots.py), through the real admin and the fake Bot API: a bot is
added from its token (getMe first, stored sealed), its token replaced only by the same bot's, its
secret rotated with setWebhook; no token is ever shown or logged, nothing is deleted, and staff see only
the bots they are members of."""

import json
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse

from telegram_payments.models import Bot, BotMembership
from telegram_payments.registry import bots

pytestmark = pytest.mark.django_db

NEW_TOKEN = "700000123:TEST-new-shop-bot-token-never-real_abcd"
ADD_URL = reverse("admin:telegram_payments_bot_add")
LIST_URL = reverse("admin:telegram_payments_bot_changelist")


def change_url(bot):
    return reverse("admin:telegram_payments_bot_change", args=[bot.pk])


def secret_half(token):
    return token.partition(":")[2]


def nowhere(token, *texts):
    """Neither the token nor its secret half is in any of `texts`."""
    return not any(part in text for text in texts for part in (token, secret_half(token)))


def said(response) -> str:
    """The messages a followed response shows."""
    return " | ".join(str(message) for message in response.context["messages"])


def dumped() -> str:
    out = StringIO()
    call_command("dumpdata", "telegram_payments", "admin", stdout=out)
    return out.getvalue()


def log_text() -> str:
    return json.dumps([(e.object_repr, e.change_message, e.get_change_message()) for e in LogEntry.objects.all()])


@pytest.fixture
def https_webhook(stars):
    stars.WEBHOOK_URL = "https://pay.example.com/webhook/telegram"


@pytest.fixture
def staff_user(django_user_model):
    def make(username, *codenames):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-only", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="telegram_payments",
                                                             codename__in=codenames))
        return django_user_model.objects.get(pk=user.pk)  # no cached permissions

    return make


def test_a_bot_is_added_from_its_token_and_the_token_is_never_shown(admin_client, fake_bot_api, credential_keys,
                                                                      admin_user):
    fake = fake_bot_api.add_bot(NEW_TOKEN, username="shop_bot")
    form = admin_client.get(ADD_URL).content.decode()
    assert 'type="password" name="token"' in form and "token_sealed" not in form and "secret_sealed" not in form
    response = admin_client.post(ADD_URL, {"name": "Shop", "slug": "shop", "token": NEW_TOKEN,
                                           "staff_members": [admin_user.pk]}, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert len(fake.calls_of("getMe")) == 1  # asked as that token's bot
    bot = Bot.objects.get(slug="shop")
    assert (bot.telegram_id, bot.username, bot.is_default) == (700000123, "shop_bot", False)
    assert bot.token_sealed and NEW_TOKEN not in bot.token_sealed and bot.token() == NEW_TOKEN
    assert bot.secret_sealed and len(bot.webhook_secret()) == 64
    assert list(bot.staff.all()) == [admin_user]
    assert "Register webhook" in html and "@shop_bot answered getMe" in html
    pages = [html, admin_client.get(LIST_URL).content.decode(), admin_client.get(change_url(bot)).content.decode(),
             admin_client.get(reverse("admin:telegram_payments_bot_history", args=[bot.pk])).content.decode(),
             admin_client.get("/admin/").content.decode()]
    assert nowhere(NEW_TOKEN, *pages, log_text(), dumped())
    assert bot.webhook_secret() not in "".join(pages) + dumped()
    assert LogEntry.objects.filter(object_id=str(bot.pk)).count() == 1


def test_the_webhook_url_is_on_the_change_page_only(admin_client, other_bots, https_webhook):
    bot, _ = other_bots["a"]
    assert bot.webhook_path not in admin_client.get(LIST_URL).content.decode()
    page = admin_client.get(change_url(bot)).content.decode()
    assert f"https://pay.example.com{reverse('bot-webhook', args=[bot.webhook_path])}" in page
    assert "token_sealed" not in page and "secret_sealed" not in page
    assert bot.token_sealed not in page and bot.secret_sealed not in page


def test_a_slug_in_use_is_a_form_error_before_telegram_is_asked(admin_client, other_bots, fake_bot_api):
    fake = fake_bot_api.add_bot(NEW_TOKEN)
    response = admin_client.post(ADD_URL, {"name": "Another A", "slug": "a", "token": NEW_TOKEN})
    assert response.status_code == 200 and "slug" in response.context["adminform"].form.errors
    assert not fake.calls_of("getMe") and Bot.objects.filter(slug="a").count() == 1


def test_a_refused_token_is_a_form_error_and_stores_nothing(admin_client, fake_bot_api, credential_keys):
    before = Bot.objects.count()
    bad = "700000999:TEST-unknown-token-never-real_abcdefgh"  # the fake serves no such bot: 401
    response = admin_client.post(ADD_URL, {"name": "Nope", "slug": "nope", "token": bad})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Telegram refused the token" in errors["token"][0]
    assert Bot.objects.count() == before and not LogEntry.objects.exists()
    assert nowhere(bad, response.content.decode())


def test_without_credential_keys_adding_is_a_form_error_naming_the_setting(admin_client, fake_bot_api):
    fake_bot_api.add_bot(NEW_TOKEN)
    response = admin_client.post(ADD_URL, {"name": "Shop", "slug": "shop", "token": NEW_TOKEN})
    assert response.status_code == 200
    assert "CREDENTIAL_KEYS" in response.context["adminform"].form.errors["token"][0]
    assert not Bot.objects.filter(slug="shop").exists() and nowhere(NEW_TOKEN, response.content.decode())


def test_a_bot_served_already_is_refused(admin_client, other_bots):
    _, fake_a = other_bots["a"]
    response = admin_client.post(ADD_URL, {"name": "A again", "slug": "a2", "token": fake_a.token})
    assert "served by this deployment already" in response.context["adminform"].form.errors["token"][0]
    assert not Bot.objects.filter(slug="a2").exists()


def change_data(bot, **extra):
    return {"name": bot.name, "is_active": "on" if bot.is_active else "",
            "staff_members": list(bot.staff.values_list("pk", flat=True)), **extra}


def test_the_token_of_another_bot_is_refused(admin_client, other_bots):
    bot_a, _ = other_bots["a"]
    _, fake_b = other_bots["b"]
    sealed = bot_a.token_sealed
    response = admin_client.post(change_url(bot_a), change_data(bot_a, replace_token=fake_b.token))
    assert response.status_code == 200
    assert "not @bot_a's" in response.context["adminform"].form.errors["replace_token"][0]
    bot_a.refresh_from_db()
    assert bot_a.token_sealed == sealed and nowhere(fake_b.token, response.content.decode(), log_text())


def test_a_new_token_of_the_same_bot_replaces_it(admin_client, other_bots, fake_bot_api):
    bot_a, fake_a = other_bots["a"]
    new = "700000001:TEST-bot-a-after-revoke-never-real_abcd"
    fake_bot_api.add_bot(new, username="bot_a")
    response = admin_client.post(change_url(bot_a), change_data(bot_a, replace_token=new, name="Bot A (shop)"))
    assert response.status_code == 302
    bot_a.refresh_from_db()
    assert bot_a.token() == new and bot_a.name == "Bot A (shop)"
    assert nowhere(new, log_text(), dumped(), admin_client.get(change_url(bot_a)).content.decode())
    assert "Replace token" in LogEntry.objects.get(object_id=str(bot_a.pk)).get_change_message()


def test_staff_are_chosen_on_the_bots_page(admin_client, other_bots, staff_user):
    bot_a, _ = other_bots["a"]
    agent = staff_user("agent", "view_bot")
    assert admin_client.post(change_url(bot_a), change_data(bot_a, staff_members=[agent.pk])).status_code == 302
    assert list(BotMembership.objects.filter(bot=bot_a).values_list("user__username", flat=True)) == ["agent"]
    assert admin_client.post(change_url(bot_a), change_data(bot_a, staff_members=[])).status_code == 302
    assert not BotMembership.objects.filter(bot=bot_a).exists()


def post_update(client, bot, secret, update_id):
    return client.generic("POST", reverse("bot-webhook", args=[bot.webhook_path]), json.dumps({"update_id": update_id}),
                          content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=secret)


def test_rotating_the_secret_registers_it_and_the_old_one_stops_working(admin_client, client, other_bots,
                                                                        https_webhook):
    bot_a, fake_a = other_bots["a"]
    old = bot_a.webhook_secret()
    assert post_update(client, bot_a, old, 1).status_code == 200
    url = reverse("admin:telegram_payments_bot_rotate_secret", args=[bot_a.pk])
    assert f'href="{url}"' in admin_client.get(change_url(bot_a)).content.decode()
    page = admin_client.get(url)
    assert page.status_code == 200 and 'id="bot-rotate-form"' in page.content.decode()
    response = admin_client.post(url, {"reason": "the old one was pasted in a chat"}, follow=True)
    assert response.status_code == 200
    bot_a.refresh_from_db()
    new = bot_a.webhook_secret()
    assert new != old
    (call,) = fake_a.calls_of("setWebhook")
    assert call["secret_token"] == new and call["url"].endswith(reverse("bot-webhook", args=[bot_a.webhook_path]))
    assert "A new webhook secret" in response.content.decode()
    assert post_update(client, bot_a, old, 2).status_code == 401
    assert post_update(client, bot_a, new, 3).status_code == 200
    html = response.content.decode()
    assert new not in html and old not in html and new not in log_text() and old not in log_text()
    assert "the old one was pasted in a chat" in LogEntry.objects.get(object_id=str(bot_a.pk)).change_message


def test_a_refused_set_webhook_keeps_the_secret_and_is_an_error_not_a_500(admin_client, other_bots, https_webhook):
    bot_a, fake_a = other_bots["a"]
    sealed = bot_a.secret_sealed
    fake_a.respond("setWebhook", error=(400, "Bad Request: bad webhook: Failed to resolve host"))
    url = reverse("admin:telegram_payments_bot_rotate_secret", args=[bot_a.pk])
    response = admin_client.post(url, {"reason": "scheduled"}, follow=True)
    assert response.status_code == 200
    assert "Telegram refused: Bad Request: bad webhook" in said(response)
    bot_a.refresh_from_db()
    assert bot_a.secret_sealed == sealed and not LogEntry.objects.exists()


def test_register_webhook(admin_client, other_bots, https_webhook, stars):
    bot_b, fake_b = other_bots["b"]
    url = reverse("admin:telegram_payments_bot_register_webhook", args=[bot_b.pk])
    response = admin_client.post(url, {"reason": "new bot"}, follow=True)
    assert "now delivers @bot_b's Updates" in said(response)
    (call,) = fake_b.calls_of("setWebhook")
    assert call["secret_token"] == bot_b.webhook_secret()
    # No https URL configured: said so, nothing asked of Telegram.
    stars.WEBHOOK_URL = ""
    response = admin_client.post(url, {"reason": "again"}, follow=True)
    assert response.status_code == 200 and "must be an https URL" in said(response)
    assert len(fake_b.calls_of("setWebhook")) == 1


def test_a_bot_api_failure_on_register_is_an_error(admin_client, other_bots, https_webhook):
    bot_b, fake_b = other_bots["b"]
    fake_b.respond("setWebhook", error=(500, "Internal Server Error"), times=5)
    url = reverse("admin:telegram_payments_bot_register_webhook", args=[bot_b.pk])
    response = admin_client.post(url, {"reason": "new bot"}, follow=True)
    assert response.status_code == 200
    assert "Nothing changed" in said(response) and "Register webhook" not in said(response)


def test_bots_are_never_deleted(admin_client, other_bots):
    bot_a, _ = other_bots["a"]
    assert admin_client.get(reverse("admin:telegram_payments_bot_delete", args=[bot_a.pk])).status_code == 403
    assert admin_client.post(reverse("admin:telegram_payments_bot_delete", args=[bot_a.pk]),
                             {"post": "yes"}).status_code == 403
    assert Bot.objects.filter(pk=bot_a.pk).exists()
    listed = admin_client.get(LIST_URL).content.decode()
    assert "delete_selected" not in listed and "action-select" not in listed


def test_the_default_bots_page_offers_no_token_and_no_rotation(admin_client, fake_bot_api, stars):
    default = bots.default()
    html = admin_client.get(change_url(default)).content.decode()
    assert 'type="password"' not in html and "replace_token" not in html
    assert "TELEGRAM_BOT_TOKEN" in html and "rotate-secret-button" not in html
    assert "register-webhook-button" in html
    assert stars.BOT_TOKEN not in html and stars.WEBHOOK_SECRET not in html
    response = admin_client.post(reverse("admin:telegram_payments_bot_rotate_secret", args=[default.pk]),
                                 {"reason": "x"}, follow=True)
    assert "TELEGRAM_WEBHOOK_SECRET" in response.content.decode()
    assert not fake_bot_api.calls_of("setWebhook")
    assert "from TELEGRAM_BOT_TOKEN" in admin_client.get(LIST_URL).content.decode()


@pytest.mark.bot_memberships_by_hand
def test_an_agent_sees_only_the_bots_they_are_a_member_of(client, other_bots, staff_user, https_webhook):
    bot_a, _ = other_bots["a"]
    bot_b, _ = other_bots["b"]
    agent = staff_user("agent", "view_bot")
    client.force_login(agent)
    listed = client.get(LIST_URL)
    assert listed.status_code == 200 and listed.context["cl"].result_count == 0
    assert client.get(change_url(bot_a)).status_code == 302  # "doesn't exist": back to the index
    BotMembership.objects.create(user=agent, bot=bot_a)
    listed = client.get(LIST_URL)
    assert [bot.slug for bot in listed.context["cl"].result_list] == ["a"]
    page = client.get(change_url(bot_a))
    html = page.content.decode()
    assert page.status_code == 200 and "agent" in html
    assert bot_a.webhook_path not in html and 'type="password"' not in html and "rotate-secret-button" not in html
    assert client.get(change_url(bot_b)).status_code == 302
    # Neither adds, changes nor acts.
    assert client.get(ADD_URL).status_code == 403
    assert client.post(change_url(bot_a), change_data(bot_a, name="Mine")).status_code == 403
    for name in ("rotate_secret", "register_webhook"):
        assert client.post(reverse(f"admin:telegram_payments_bot_{name}", args=[bot_a.pk]),
                           {"reason": "x"}).status_code == 403


def test_a_manager_with_view_all_bots_changes_every_bot(client, other_bots, staff_user, fake_bot_api):
    bot_b, _ = other_bots["b"]
    manager = staff_user("manager", "view_bot", "change_bot", "view_all_bots")
    client.force_login(manager)
    assert client.get(LIST_URL).context["cl"].result_count == Bot.objects.count()
    assert client.post(change_url(bot_b), change_data(bot_b, name="Renamed")).status_code == 302
    assert Bot.objects.get(pk=bot_b.pk).name == "Renamed"
    assert client.get(ADD_URL).status_code == 403  # adding needs add_bot too
    manager.user_permissions.add(Permission.objects.get(codename="add_bot"))
    client.force_login(type(manager).objects.get(pk=manager.pk))
    fake_bot_api.add_bot(NEW_TOKEN)
    assert client.post(ADD_URL, {"name": "Shop", "slug": "shop", "token": NEW_TOKEN}).status_code == 302
    assert Bot.objects.get(slug="shop").telegram_id == 700000123
    # change_bot alone (no view_all_bots) changes nothing.
    plain = staff_user("plain", "view_bot", "change_bot")
    BotMembership.objects.create(user=plain, bot=bot_b)
    client.force_login(plain)
    assert client.post(change_url(bot_b), change_data(bot_b, name="Nope")).status_code == 403
