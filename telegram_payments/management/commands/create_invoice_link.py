"""Print a Stars invoice link for a catalog product, made by the same invoice code the bot uses."""

from django.core.management.base import BaseCommand, CommandError

from entitlements.management import argtypes
from telegram_payments.management.cli import add_bot_argument, chosen_bot
from telegram_payments.models import Product
from telegram_payments.payments.invoices import InvoiceError, create_invoice_link
from telegram_payments.telegram_api.client import BotApiError


class Command(BaseCommand):
    help = "Print a Telegram Stars invoice link for PRODUCT (its entitlement type), optionally for one user."

    def add_arguments(self, parser):
        parser.add_argument("product", metavar="PRODUCT", help="entitlement type, e.g. premium_monthly")
        parser.add_argument("--user", type=argtypes.user_id, metavar="USER_ID",
                            help="the Telegram user the invoice is for")
        add_bot_argument(parser)

    def handle(self, *args, **options):
        bot = chosen_bot(options)
        catalog = Product.objects.filter(bot=bot)
        product = catalog.filter(entitlement_type=options["product"]).first()
        if product is None:
            known = ", ".join(catalog.order_by("entitlement_type").values_list("entitlement_type", flat=True))
            raise CommandError(f"Unknown product {options['product']!r} in the catalog of {bot.slug}. "
                               f"Known: {known or 'none (empty catalog)'}.")
        try:
            issued = create_invoice_link(product=product, user_id=options["user"], bot=bot)
        except InvoiceError as exc:
            raise CommandError(f"Cannot invoice {product.entitlement_type!r}: {exc}") from None
        except BotApiError as exc:
            raise CommandError(f"Telegram refused createInvoiceLink: {exc.description}") from None
        self.stdout.write(issued.link)
        who = f"user {options['user']}" if options["user"] else "anyone"
        self.stderr.write(f"Invoice for {product.title} ({product.price_stars} XTR), payable by {who}.")
