"""Messages to a chat: a `sendMessage` as the webhook's answer body, or sent as a call."""

from telegram import InlineKeyboardMarkup

from telegram_payments.telegram_api.client import call_bot


def text(chat_id: int, words: str, *, buttons: list | None = None) -> dict:
    """A `sendMessage` call, as a webhook response body or for `send`."""
    reply = {"method": "sendMessage", "chat_id": chat_id, "text": words}
    if buttons:
        reply["reply_markup"] = {"inline_keyboard": buttons}
    return reply


def send(reply: dict, *, bot) -> None:
    """Send a `text` reply as `bot` (when the response body is taken by another answer)."""
    markup = InlineKeyboardMarkup.de_json(reply["reply_markup"], None) if "reply_markup" in reply else None
    call_bot("sendMessage", lambda api: api.send_message(reply["chat_id"], reply["text"], reply_markup=markup), bot=bot)
