"""`manage.py simulate_payment --user ID --product TYPE`: development only. A purchase as Telegram makes
it, through the real webhook URL of the running service: an invoice link issued by the invoice code
the bot uses, the pre-checkout query, then the successful payment Update (and, on the Bot API stand-in,
the Star transaction Telegram would list). Refused without DEBUG.
"""

import json
import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from entitlements.management import argtypes
from telegram_payments.conf import stars_settings
from telegram_payments.logformat import shown_url
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.models import STARS_CURRENCY, Product
from telegram_payments.payments.invoices import InvoiceError, create_invoice_link
from telegram_payments.telegram_api.client import BotApiError, call_bot

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Command(BaseCommand):
    help = "Development only (DEBUG): pay for PRODUCT as USER through the running service's webhook."

    def add_arguments(self, parser):
        parser.add_argument("--user", type=argtypes.user_id, required=True, metavar="USER_ID")
        parser.add_argument("--product", required=True, metavar="TYPE", help="entitlement type, e.g. premium_monthly")
        parser.add_argument("--name", default="Dev", help="the buyer's first name (default Dev)")
        parser.add_argument("--username", default="", help="the buyer's @username, without the @")
        parser.add_argument("--service", default="http://127.0.0.1:8000", metavar="URL",
                            help="where the service runs (default http://127.0.0.1:8000)")
        add_bot_argument(parser)

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("simulate_payment is for development only: refused without DEBUG.")
        # A forged payment with the real webhook secret goes to this machine only, and never to Telegram.
        for name, url in (("--service", options["service"]), ("TELEGRAM_API_BASE_URL", stars_settings.API_BASE_URL)):
            if urlsplit(url).hostname not in LOOPBACK:
                raise CommandError(f"{name} must be on this machine (127.0.0.1, localhost or [::1]): {url!r}.")
        bot = chosen_bot(options)
        product = Product.objects.filter(bot=bot, entitlement_type=options["product"], is_active=True).first()
        if product is None:
            raise CommandError(f"No product {options['product']!r} on sale at {bot.slug} "
                               "(manage.py loaddata demo_catalog).")
        user_id = options["user"]
        try:
            issued = create_invoice_link(product=product, user_id=user_id, bot=bot)
        except (InvoiceError, BotApiError) as exc:
            raise CommandError(f"Could not issue the invoice: {exc} (is manage.py dev_bot_api running?)") from None
        invoice = issued.invoice
        self.stdout.write(f"Invoice {invoice.payload}: {product.title}, {invoice.price_stars} XTR, for user {user_id}.")

        buyer = {"id": user_id, "is_bot": False, "first_name": options["name"]}
        if options["username"]:
            buyer["username"] = options["username"]
        chat = {"id": user_id, "type": "private", "first_name": options["name"]}
        update_id = int(time.time() * 1000) % 2**31
        query = {"update_id": update_id, "pre_checkout_query": {
            "id": secrets.token_hex(8), "from": buyer, "currency": STARS_CURRENCY,
            "total_amount": invoice.price_stars, "invoice_payload": invoice.payload}}
        answer = self._post(options["service"], query, bot=bot)
        self.stdout.write(f"Pre-checkout: {json.dumps(answer)}")
        if not answer.get("ok"):
            raise CommandError("The pre-checkout query was declined: no payment sent.")

        charge = f"dev_{secrets.token_hex(12)}"
        payment = {"currency": STARS_CURRENCY, "total_amount": invoice.price_stars, "invoice_payload": invoice.payload,
                   "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}
        if invoice.subscription_period:
            payment.update(subscription_expiration_date=int(time.time()) + invoice.subscription_period,
                           is_recurring=True, is_first_recurring=True)
        try:  # what Telegram's getStarTransactions will list (the stand-in keeps it; Telegram does by itself)
            call_bot("recordStarPayment", lambda api: api.do_api_request("recordStarPayment", api_kwargs={
                "charge_id": charge, "user_id": user_id, "amount": invoice.price_stars,
                "invoice_payload": invoice.payload}), bot=bot)
        except BotApiError as exc:
            self.stderr.write(f"The Bot API did not record the Star transaction ({exc.description}).")
        message = {"message_id": 1, "date": int(time.time()), "chat": chat, "from": buyer,
                   "successful_payment": payment}
        answer = self._post(options["service"], {"update_id": update_id + 1, "message": message}, bot=bot)
        self.stdout.write(f"Payment {charge}: {json.dumps(answer, ensure_ascii=False)}")

    def _post(self, service: str, update: dict, *, bot) -> dict:
        """POST `update` to `bot`'s webhook path with its secret, as Telegram would."""
        path = reverse("telegram-webhook") if bot.is_default else reverse("bot-webhook", args=[bot.webhook_path])
        url = service.rstrip("/") + path
        request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret()})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise CommandError(f"{shown_url(url, bot)} answered {exc.code}: {exc.read()[:300]!r}") from None
        except OSError as exc:
            raise CommandError(f"Cannot reach {shown_url(url, bot)} ({exc}): is the service running "
                               "(./scripts/run.sh)?") from None
