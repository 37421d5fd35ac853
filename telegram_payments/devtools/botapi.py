"""A small stand-in for the Telegram Bot API on loopback: the tests' fake, and development's
(`manage.py dev_bot_api`, DEBUG only), so that nothing but production ever calls Telegram.

It speaks the real wire format (POST /bot<token>/<method>, form or JSON parameters, answers
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`), answers
every method this service calls, records every call, and can be told to answer a method with a
result, a Bot API error, an HTTP 500, or a delay. One server can serve several bots: it is started
for one token, and `add_bot` adds another on the same server, a separate `FakeBotApi` with its own
calls, scripted answers, Star transactions, balance, webhook and getMe user. A token it does not
serve gets 401. With `keeps_ledger`, each bot also keeps its Star transactions as Telegram would: a
payment the developer simulates (`recordStarPayment`, not a Bot API method) adds one,
`refundStarPayment` adds its refund (of a charge in that bot's ledger only), and
`getStarTransactions` / `getMyStarBalance` read them.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer
from urllib.parse import parse_qs

BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Stars Test Bot", "username": "stars_test_bot"}


@dataclass
class Call:
    method: str
    params: dict


@dataclass
class Scripted:
    result: object = None
    error: tuple[int, str] | None = None  # (error_code, description)
    http_status: int = 200
    delay: float = 0.0
    retry_after: int | None = None


def _decode_params(content_type: str, body: bytes) -> dict:
    if not body:
        return {}
    if "application/json" in content_type:
        return json.loads(body)
    if "multipart/form-data" in content_type:  # not used by these tests (no files)
        raise ValueError("multipart is not supported by the fake Bot API")
    params = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        value = values[-1]
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


@dataclass
class FakeBotApi:
    """One bot as the stand-in serves it. Every bot on a server shares `server`, `thread` and `base_url`."""

    token: str
    calls: list[Call] = field(default_factory=list)
    scripted: dict[str, list[Scripted]] = field(default_factory=dict)
    defaults: dict[str, Scripted] = field(default_factory=dict)
    star_transactions: list[dict] = field(default_factory=list)
    star_balance: dict | None = None  # getMyStarBalance's StarAmount; None: the sum of `star_transactions`
    webhook: dict = field(default_factory=dict)
    keeps_ledger: bool = False
    max_calls: int | None = None  # keep only the newest calls (a long development session)
    user: dict = field(default_factory=lambda: dict(BOT_USER))  # getMe's answer and the `from` of its messages
    _message_id: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # token -> bot, in the order added, shared by every bot on the server (the first is the one started)
    _bots: dict[str, "FakeBotApi"] = field(default_factory=dict, repr=False, compare=False)
    _bots_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self):
        self._bots.setdefault(self.token, self)

    # --- several bots on one server ------------------------------------------------------------
    def add_bot(self, token: str, *, username: str | None = None, first_name: str | None = None,
                keeps_ledger: bool | None = None, max_calls: int | None = None) -> "FakeBotApi":
        """Serve `token` too, on this server, as a bot with its own state. Its getMe user has the id
        before the token's ':', and `username` / `first_name` (by default derived from that id).
        `keeps_ledger` and `max_calls` default to the first bot's."""
        bot_id = _bot_id(token)
        first = self._first()
        user = {"id": bot_id, "is_bot": True, "first_name": first_name or f"Test Bot {bot_id}",
                "username": username or f"bot{bot_id}"}
        with self._bots_lock:
            if token in self._bots:
                raise ValueError("this server already serves that token")
            bot = FakeBotApi(token=token, user=user,  # joins self._bots (__post_init__)
                             keeps_ledger=first.keeps_ledger if keeps_ledger is None else keeps_ledger,
                             max_calls=first.max_calls if max_calls is None else max_calls,
                             _bots=self._bots, _bots_lock=self._bots_lock)
        for name in ("server", "thread"):
            if hasattr(first, name):
                setattr(bot, name, getattr(first, name))
        return bot

    @property
    def bots(self) -> dict[str, "FakeBotApi"]:
        """Every bot this server serves, token -> bot, the first one started first (a copy)."""
        with self._bots_lock:
            return dict(self._bots)

    def _first(self) -> "FakeBotApi":
        with self._bots_lock:
            return next(iter(self._bots.values()))

    # --- configuring answers -------------------------------------------------------------------
    def respond(self, method: str, *, result=None, error=None, http_status=200, delay=0.0,
                retry_after=None, times: int | None = 1):
        """Script the next answer(s) of `method`. times=None: every call from now on."""
        answer = Scripted(result=result, error=error, http_status=http_status, delay=delay,
                          retry_after=retry_after)
        if times is None:
            self.defaults[method] = answer
        else:
            self.scripted.setdefault(method, []).extend([answer] * times)

    def calls_of(self, method: str) -> list[dict]:
        return [c.params for c in self.calls if c.method == method]

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # --- default behaviour of the methods we use -----------------------------------------------
    def _default_result(self, method: str, params: dict):
        now = int(time.time())
        if method == "getMe":
            return self.user
        if method in {"sendMessage", "sendInvoice"}:
            with self._lock:
                self._message_id += 1
                message_id = self._message_id
            chat_id = params.get("chat_id", 1)
            message = {"message_id": message_id, "date": now, "from": self.user,
                       "chat": {"id": chat_id, "type": "private"}}
            if method == "sendMessage":
                message["text"] = params.get("text", "")
            else:
                message["invoice"] = {"title": params.get("title", ""),
                                      "description": params.get("description", ""),
                                      "start_parameter": params.get("start_parameter", ""),
                                      "currency": params.get("currency", "XTR"),
                                      "total_amount": sum(p["amount"] for p in params.get("prices", []))}
            return message
        if method == "createInvoiceLink":
            return f"https://t.me/$fake_invoice_{params.get('payload', '')}"
        if method == "setWebhook":
            self.webhook = {"url": params.get("url", ""), "has_custom_certificate": False,
                            "pending_update_count": 0,
                            "allowed_updates": params.get("allowed_updates", [])}
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return self.webhook or {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getStarTransactions":
            offset = int(params.get("offset", 0) or 0)
            limit = int(params.get("limit", 100) or 100)
            return {"transactions": self.star_transactions[offset: offset + limit]}
        if method == "getMyStarBalance":
            return self.star_balance if self.star_balance is not None else star_amount(self.star_transactions)
        if method == "refundStarPayment" and self.keeps_ledger:
            return self._refund(params)
        if method == "recordStarPayment" and self.keeps_ledger:
            if not all(params.get(name) for name in ("charge_id", "user_id", "amount")):
                raise BotApiRefusal(400, "Bad Request: charge_id, user_id and amount are required")
            payment = star_payment(str(params["charge_id"]), user_id=int(params["user_id"]),
                                   amount=int(params["amount"]), invoice_payload=params.get("invoice_payload"))
            with self._lock:
                self.star_transactions.append(payment)
            return True
        if method in {"refundStarPayment", "answerPreCheckoutQuery", "editUserStarSubscription",
                      "answerCallbackQuery", "deleteMessage"}:
            return True
        raise LookupError(method)

    def _refund(self, params: dict):
        """refundStarPayment against the ledger: the charge must be a payment of that user, refunded once."""
        charge, user_id = str(params.get("telegram_payment_charge_id", "")), int(params.get("user_id", 0))
        with self._lock:
            payment = next((t for t in self.star_transactions if t["id"] == charge and "source" in t
                            and t["source"].get("user", {}).get("id") == user_id), None)
            if payment is None:
                raise BotApiRefusal(400, "Bad Request: CHARGE_NOT_FOUND")
            if any(t["id"] == charge and "receiver" in t for t in self.star_transactions):
                raise BotApiRefusal(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
            self.star_transactions.append(star_refund(charge, user_id=user_id, amount=payment["amount"],
                                                      invoice_payload=payment["source"].get("invoice_payload")))
        return True

    def answer(self, method: str, params: dict) -> tuple[int, dict, Scripted | None]:
        return self._answer(Call(method, params))

    def _answer(self, call: Call) -> tuple[int, dict, Scripted | None]:
        method, params = call.method, call.params
        with self._lock:
            self.calls.append(call)
            if self.max_calls is not None and len(self.calls) > self.max_calls:
                del self.calls[0]
            queue = self.scripted.get(method)
            scripted = queue.pop(0) if queue else self.defaults.get(method)
        if scripted is not None:
            if scripted.delay:
                time.sleep(scripted.delay)
            if scripted.http_status != 200:
                return scripted.http_status, {"ok": False, "error_code": scripted.http_status,
                                              "description": "Internal Server Error"}, scripted
            if scripted.retry_after is not None:
                return 429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {scripted.retry_after}",
                             "parameters": {"retry_after": scripted.retry_after}}, scripted
            if scripted.error is not None:
                code, description = scripted.error
                return code, {"ok": False, "error_code": code, "description": description}, scripted
            return 200, {"ok": True, "result": scripted.result}, scripted
        try:
            return 200, {"ok": True, "result": self._default_result(method, params)}, None
        except BotApiRefusal as refusal:
            return refusal.code, {"ok": False, "error_code": refusal.code, "description": refusal.description}, None
        except LookupError:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, None


def _bot_id(token: str) -> int:
    """The bot's user id: the digits before the token's ':' (Telegram's tokens are `<id>:<secret>`)."""
    head, sep, _ = token.partition(":")
    if not sep or not head.isdigit() or "/" in token:
        raise ValueError("a bot token looks like <bot id>:<secret>")
    return int(head)


class BotApiRefusal(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def start_fake_bot_api(token: str, *, host: str = "127.0.0.1", port: int = 0, keeps_ledger: bool = False,
                       on_call=None, max_calls: int | None = None) -> FakeBotApi:
    """Serve a stand-in for `token` on `host:port` (0: any free port) in a thread; `on_call(call, status)`
    is told of each call, to any bot on the server. `add_bot` on the result serves more tokens."""
    fake = FakeBotApi(token=token, keeps_ledger=keeps_ledger, max_calls=max_calls)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            bot, method = self._bot_and_method()
            if bot is None:
                return self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            call = Call(method, _decode_params(self.headers.get("Content-Type", ""), body))
            status, payload, _ = bot._answer(call)
            if on_call is not None:
                on_call(call, status)
            self._send(status, payload)

        def _bot_and_method(self) -> tuple[FakeBotApi | None, str]:
            """The bot whose token the path names (/bot<token>/<method>), and the method."""
            for token, bot in fake.bots.items():
                prefix = f"/bot{token}/"
                if self.path.startswith(prefix):
                    return bot, self.path[len(prefix):]
            return None, ""

        do_GET = do_POST

        def _send(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    fake.server = server
    fake.thread = serve_in_thread(server)
    return fake


def stop_fake_bot_api(fake: FakeBotApi) -> None:
    """Stop the server, and with it every bot it serves (`fake` may be any of them)."""
    stop(fake.server, fake.thread)


# serve_forever() checks for a shutdown request once per poll interval (half a second by default),
# so a short interval lets stop() return at once instead of making every teardown wait.
POLL_INTERVAL = 0.01  # seconds


def serve_in_thread(server: BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)
    thread.start()
    return thread


def stop(server: BaseServer, thread: threading.Thread) -> None:
    """Stop accepting, close the listening socket, and wait for the serving thread to end."""
    server.shutdown()
    server.server_close()
    thread.join()


def star_amount(transactions: list[dict]) -> dict:
    """The StarAmount a bot with these transactions holds: Stars in (`source`) minus Stars out (`receiver`)."""
    nanostars = sum((t["amount"] * 10**9 + t.get("nanostar_amount", 0)) * (1 if "source" in t else -1)
                    for t in transactions
                    if isinstance(t, dict) and isinstance(t.get("amount"), int))  # Telegram has no unreadable ones
    amount = int(nanostars / 10**9)  # toward zero; nanostar_amount has the amount's sign
    rest = nanostars - amount * 10**9
    return {"amount": amount, "nanostar_amount": rest} if rest else {"amount": amount}


# --- real-shaped StarTransaction dicts for `FakeBotApi.star_transactions` (getStarTransactions) ---
def _partner_user(user_id: int, invoice_payload: str | None, subscription_period: int | None = None) -> dict:
    partner = {"type": "user", "transaction_type": "invoice_payment",
               "user": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}}
    if invoice_payload is not None:
        partner["invoice_payload"] = invoice_payload
    if subscription_period is not None:
        partner["subscription_period"] = subscription_period
    return partner


def star_payment(charge_id: str, *, user_id: int, amount: int, invoice_payload: str | None,
                 date: int | None = None, subscription_period: int | None = None) -> dict:
    """A payment to the bot: `source` is the paying user; `id` is the telegram_payment_charge_id."""
    return {"id": charge_id, "amount": amount, "date": date or int(time.time()),
            "source": _partner_user(user_id, invoice_payload, subscription_period)}


def star_refund(charge_id: str, *, user_id: int, amount: int, invoice_payload: str | None = None,
                date: int | None = None) -> dict:
    """The refund of that payment: the same `id`, with `receiver` (the user) instead of `source`."""
    return {"id": charge_id, "amount": amount, "date": date or int(time.time()),
            "receiver": _partner_user(user_id, invoice_payload)}


def star_withdrawal(transaction_id: str, *, amount: int, date: int | None = None) -> dict:
    """A withdrawal to Fragment: not a payment of ours, reconciliation must ignore it."""
    return {"id": transaction_id, "amount": amount, "date": date or int(time.time()),
            "receiver": {"type": "fragment", "withdrawal_state": {"type": "pending"}}}
