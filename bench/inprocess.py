#!/usr/bin/env python
"""The app's CPU and statements per request of each kind, in one process, without HTTP.

    python bench/inprocess.py                 # 5 interleaved rounds of 250 requests per kind
    python bench/inprocess.py --show-sql      # also print the statements of one request of each kind

It (re)creates the database named by --database-url (its name must start with `bench`), migrates it
and loads the demo catalog as bench/run.py does, then sets Django up in this process with the
production settings (DEBUG off, `LOG_LEVEL` INFO by default, the JSON log lines written to
/dev/null) and calls the WSGI application gunicorn serves (`payments_project.wsgi`) directly, one
request at a time, so that the connection's health check, the middleware and the log line are paid
as in production. For each round and each kind it runs N requests and reads `time.process_time()`
around them (CPU ms per request); a separate short pass under `CaptureQueriesContext` counts the
statements (which slows requests down, so it is never timed). Rounds interleave the kinds, and each
figure is the median over rounds; the ratio to the floor is the median of the per-round ratios.

Kinds: `floor` and `naive` (the baselines of bench/views.py), `relay` (a new relay payment), `update`
(a new payment as a Bot API Update, paying an invoice link), `refund` (of this round's relay
payments), `copy` (a payment already recorded, sent again with other bytes, so the redelivery memory
does not answer it), `duplicate` (the same bytes again: the memory answers), `ping` (a trivial DRF
POST).
"""

import argparse
import gc
import io
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import run  # noqa: E402  bench/run.py: the database set-up and the secrets

KINDS = ["floor", "naive", "relay", "update", "refund", "copy", "duplicate", "ping"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_INPROCESS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_inprocess"))
    parser.add_argument("--requests", type=int, default=250, help="requests per kind and round (default 250)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=50, help="requests per kind before the rounds")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL (default INFO, as production)")
    parser.add_argument("--only", help="comma-separated kinds (default all; refund needs relay)")
    parser.add_argument("--show-sql", action="store_true", help="print one request's statements per kind")
    return parser.parse_args()


class Client:
    """Builds WSGI environs and calls the application, as gunicorn would (no HTTP)."""

    def __init__(self, application):
        self.application = application
        self.status = None

    def _start_response(self, status, headers, exc_info=None):
        self.status = status

    def post(self, path: str, body: bytes) -> bytes:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": run.SECRET,
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        result = self.application(environ, self._start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if not self.status.startswith("200"):
            raise RuntimeError(f"{path}: {self.status} {content[:300]!r}")
        return content


def payment_body(charge: str, user: int, extra: str = "") -> bytes:
    return (f'{{"user_id": {user}, "entitlement_type": "premium_monthly", "invoice_id": "", '
            f'"telegram_payment_charge_id": "{charge}", "provider_payment_charge_id": "", '
            f'"total_amount": 250, "currency": "XTR"{extra}}}').encode()


def update_body(update_id: int, charge: str, user: int) -> bytes:
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "from": {"id": user, "is_bot": False, "first_name": "B"},
        "chat": {"id": user, "type": "private", "first_name": "B"}, "date": 1795000000,
        "successful_payment": {"currency": "XTR", "total_amount": 250, "invoice_payload": run.LINK_INVOICE,
                               "telegram_payment_charge_id": charge, "provider_payment_charge_id": ""}}}).encode()


class Requests:
    """The i-th request of each kind, every one new where it must be (charges, buyers, updates)."""

    def __init__(self, runid: str):
        self.runid = runid
        self.paid: list[tuple[str, int]] = []  # relay payments not refunded yet
        self.counter = 0
        self.copied = None

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def make(self, kind: str) -> tuple[str, bytes, str]:
        """(path, body, what the answer must contain)."""
        n = self._next()
        user = 10_000_000 + n
        if kind == "floor":
            return "/bench/sql-insert", payment_body(f"{self.runid}-f-{n}", user), '"ok":true'
        if kind == "naive":
            return "/bench/naive-payment", payment_body(f"{self.runid}-n-{n}", user), '"status":"processed"'
        if kind == "relay":
            charge = f"{self.runid}-p-{n}"
            self.paid.append((charge, user))
            return "/webhook/telegram/successful_payment", payment_body(charge, user), '"status":"processed"'
        if kind == "update":
            return ("/webhook/telegram", update_body(n, f"{self.runid}-u-{n}", user),
                    '"method":"sendMessage"')
        if kind == "refund":
            charge, user = self.paid.pop(0)
            body = (f'{{"user_id": {user}, "entitlement_type": "premium_monthly", '
                    f'"telegram_payment_charge_id": "{charge}", "refund_reason": "bench"}}').encode()
            return "/webhook/telegram/refund", body, '"status":"processed"'
        if kind in ("copy", "duplicate"):
            charge, user = self.copied
            # Another relay serialising the same payment (a delivery counter): other bytes, one charge.
            extra = f', "delivery": {n}' if kind == "copy" else ""
            return ("/webhook/telegram/successful_payment", payment_body(charge, user, extra),
                    '"status":"duplicate"')
        if kind == "ping":
            return "/bench/ping", b"{}", '"ok":true'
        raise ValueError(kind)


def main() -> int:
    args = parse_args()
    kinds = [k for k in KINDS if not args.only or k in args.only.split(",")]
    env = run.server_env(argparse.Namespace(database_url=args.database_url))
    env["LOG_LEVEL"] = args.log_level
    run.prepare(argparse.Namespace(database_url=args.database_url), env)
    os.environ.update(env)

    import django
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    django.setup()
    from payments_project.wsgi import application

    devnull = open(os.devnull, "w")  # noqa: SIM115  the log lines are formatted and written, to nowhere
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    client = Client(application)
    requests = Requests(f"ip{int(time.time())}")

    def one(kind: str) -> None:
        path, body, expect = requests.make(kind)
        answer = client.post(path, body)
        if expect.encode() not in answer:
            raise RuntimeError(f"{kind}: unexpected answer {answer[:300]!r}")

    # The payment that copies and duplicates repeat, recorded once (and its identical copy remembered).
    charge = f"{requests.runid}-dup"
    client.post("/webhook/telegram/successful_payment", payment_body(charge, 999))
    requests.copied = (charge, 999)
    for _ in range(args.warmup):
        for kind in kinds:
            one(kind)
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py does once a worker has loaded the app

    statements, shown = {}, {}
    for kind in kinds:
        with CaptureQueriesContext(connection) as queries:
            for _ in range(20):
                one(kind)
        statements[kind] = len(queries) / 20
        with CaptureQueriesContext(connection) as queries:
            one(kind)
        shown[kind] = [q["sql"] for q in queries.captured_queries]

    cpu = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            started = time.process_time()
            for _ in range(args.requests):
                one(kind)
            cpu[kind].append((time.process_time() - started) * 1000 / args.requests)

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, {args.rounds} rounds x {args.requests} requests per kind, "
          f"LOG_LEVEL={args.log_level}")
    print("| kind | app CPU ms/req (median) | rounds' range | vs floor | statements/req |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind in kinds:
        values = cpu[kind]
        ratio = (f"{statistics.median(v / f for v, f in zip(values, cpu['floor'], strict=True)):.2f}x"
                 if "floor" in cpu else "-")
        print(f"| {kind} | {statistics.median(values):.2f} | {min(values):.2f}-{max(values):.2f} | {ratio} "
              f"| {statements[kind]:g} |")
    if args.show_sql:
        for kind in kinds:
            print(f"\n{kind}:")
            for sql in shown[kind]:
                print(f"  {sql[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
