"""A fixed-rate (open-loop) HTTP client for bench/run.py --rate: what a busy bot's webhook feels.

wrk sends as fast as the server answers, so it measures capacity; Telegram sends when people pay.
This client starts request i at t0 + i / rate whether or not earlier ones were answered, over a pool
of keep-alive connections, and measures each latency from the moment the request was due (a request
that waited for a free connection counts its wait): a stall of the server shows up in the tail as it
would for Telegram, instead of silently lowering the offered rate.

Bodies are those of the wrk scenarios (bench/lua/), with the same charge-id and buyer scheme, and the
acknowledgements are written to `acks-0.txt` in the same form, so run.py's database checks apply as
they are.
"""

import asyncio
import json
import re
import time

# What each scenario sends, and what its answer must contain (as in bench/lua/*.lua).
EXPECT = {
    "ping": b'"ok":true',
    "floor": b'"ok":true',
    "new": b'"status":"processed"',
    "duplicate": b'"status":"duplicate"',
    "update": b'"method":"sendMessage"',
}
ACK = {"new": re.compile(rb'"event_id":"([^"]+)"'), "update": re.compile(rb'"chat_id":(\d+)')}
SCENARIOS = tuple(EXPECT)


def payment_body(charge: str, user: int) -> dict:
    return {"user_id": user, "entitlement_type": "premium_monthly", "invoice_id": "",
            "telegram_payment_charge_id": charge, "provider_payment_charge_id": "",
            "total_amount": 250, "currency": "XTR"}


def request_for(name: str, runid: str, round_no: int, n: int) -> tuple[str, str, dict | None]:
    """(method, path, JSON body) of the n-th request of scenario `name` in this round."""
    run_no = int(re.search(r"(\d+)$", runid).group(1))
    # A new buyer each time: base + round + n, apart from wrk's buyers (which count from 1e9 * (1 + run))
    user = 1_000_000_000 * (1 + run_no) + 900_000_000 + round_no * 1_000_000 + n
    if name == "ping":
        return "GET", "/bench/ping", None
    if name == "floor":
        return "POST", "/bench/sql-insert", payment_body(f"{runid}-f-{round_no}-r-{n}", 1)
    if name == "new":
        return "POST", "/webhook/telegram/successful_payment", payment_body(f"{runid}-p-{round_no}-r-{n}", user)
    if name == "duplicate":
        return "POST", "/webhook/telegram/successful_payment", payment_body(f"{runid}-dup", 999)
    if name == "update":
        buyer = user + 50_000_000
        sender = {"id": buyer, "is_bot": False, "first_name": "B"}
        return "POST", "/webhook/telegram", {"update_id": n, "message": {
            "message_id": n, "from": sender, "chat": {"id": buyer, "type": "private", "first_name": "B"},
            "date": 1795000000, "successful_payment": {
                "currency": "XTR", "total_amount": 250, "invoice_payload": "bench-link",
                "telegram_payment_charge_id": f"{runid}-u-{round_no}-r-{n}", "provider_payment_charge_id": ""}}}
    raise ValueError(f"no fixed-rate requests for scenario {name!r}")


class Connection:
    """One HTTP/1.1 connection, reopened when the server closes it (sync workers close each one)."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def encode(method: str, path: str, body: dict | None, secret: str) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
            f"Content-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: {secret}\r\n\r\n")
    return head.encode() + data


def percentile(sorted_values: list[int], p: float) -> int:
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


async def drive(*, name: str, port: int, secret: str, rate: float, duration: float, connections: int,
                runid: str, round_no: int, outdir, timeout: float = 10.0) -> dict:
    """Offer `rate` requests/s of scenario `name` for `duration` s; a result shaped like run.py's wrk one."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(port))
    latencies, acks = [], []
    counts = {"socket_errors": 0, "non_2xx": 0, "timeouts": 0, "unexpected": 0}

    async def one(n: int, due: float):
        raw = encode(*request_for(name, runid, round_no, n), secret)
        connection = await pool.get()
        try:
            status, body = await asyncio.wait_for(connection.exchange(raw), timeout)
        except TimeoutError:
            counts["timeouts"] += 1
            return
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            counts["socket_errors"] += 1
            return
        finally:
            pool.put_nowait(connection)
        latencies.append(int((time.perf_counter() - due) * 1e6))
        if not 200 <= status < 300:
            counts["non_2xx"] += 1
        elif EXPECT[name] not in body:
            counts["unexpected"] += 1
        elif name in ACK:
            acks.append(ACK[name].search(body).group(1).decode())

    total = int(rate * duration)
    start = time.perf_counter()
    tasks = []
    for n in range(1, total + 1):
        due = start + (n - 1) / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _ in range(connections):
        (await pool.get()).close()
    (outdir / "acks-0.txt").write_text("".join(f"{a}\n" for a in acks))
    latencies.sort()
    return {"requests": len(latencies), "duration_us": int(elapsed * 1e6), "sent": total,
            "acked": len(acks), "fresh": 0, "offered": rate,
            "p50_us": percentile(latencies, 50), "p99_us": percentile(latencies, 99),
            "max_us": latencies[-1] if latencies else 0, "latencies_us": latencies, **counts}


def run(**kwargs) -> dict:
    return asyncio.run(drive(**kwargs))
