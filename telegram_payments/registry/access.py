"""Which bots' data a staff member may see in the admin (decision 0003, section 5).

Every bot for a superuser or a holder of `telegram_payments.view_all_bots` (an agency manager), else
the bots of the user's `BotMembership` rows. Fail closed: anyone else (no membership, not staff, not
authenticated) sees no bot at all. Inactive bots stay visible to their members: their rows stay readable.
"""

from telegram_payments.models import Bot, Product

VIEW_ALL_BOTS = "telegram_payments.view_all_bots"


def sees_every_bot(user) -> bool:
    return bool(user and user.is_active and (user.is_superuser or user.has_perm(VIEW_ALL_BOTS)))


def visible_bots(user) -> list[Bot]:
    """The bots whose data `user` may see, the default first (one query)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    bots = Bot.objects.all() if sees_every_bot(user) else Bot.objects.filter(memberships__user=user)
    return list(bots.distinct().order_by("-is_default", "name", "pk"))


def scopes_of(bots) -> list[str]:
    """The entitlement scopes of `bots`: their own, and the `shared:` scopes their products grant into."""
    bots = list(bots)
    own = [bot.entitlement_scope for bot in bots]
    names = (Product.objects.filter(bot__in=bots).exclude(shared_access="")
             .values_list("shared_access", flat=True).distinct())
    return own + sorted({f"shared:{name}" for name in names})


def visible_scopes(user) -> list[str]:
    """The entitlement scopes whose grants `user` may see: their bots' scopes, and their products'
    `shared:` scopes."""
    return scopes_of(visible_bots(user))
