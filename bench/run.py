#!/usr/bin/env python
"""Benchmark the webhook service under gunicorn against PostgreSQL, with wrk, and print a table.

    /work/venv/bin/python bench/run.py            # or: python bench/run.py --help

It (re)creates the database named by --database-url (default: bench_payments on the local server),
migrates it, loads the demo catalog, starts gunicorn with DEBUG off and BENCH_ENDPOINTS=1, and for
each run drives, at --connections concurrent connections for --duration seconds each:

  ping       GET /bench/ping: a trivial DRF view (baseline for duplicates)
  floor      POST /bench/sql-insert: one raw-SQL insert in its own transaction (baseline for payments)
  new        POST /webhook/telegram/successful_payment, a new charge each time
  duplicate  the same payment again and again (delivered once before)
  refund     POST /webhook/telegram/refund of the charges paid in "new"
  update     POST /webhook/telegram: a successful_payment Bot API Update (Telegram's own route), a new
             update, charge and buyer each time, paying one invoice link (no target; for comparison)

The scenarios run interleaved, round after round, and each ratio in the table is the median over
rounds of the scenario's figure against its baseline in the same round: this machine's speed
drifts by 2-3x within a minute (a shared host), so only figures taken close together compare.

Beside each figure it prints the CPU a request cost the app (gunicorn's processes) and the database
(every PostgreSQL process, backends and background writers alike), read from /proc around each round:
where a scenario's time goes, when the database runs on this machine.

Then it checks the database: every payment acknowledged as processed is stored once with one
grant, none is stored twice, the duplicate made one event, every refund revoked its grant.
Exit status 0 when the run is clean (no errors, nothing lost or doubled), whatever the speed.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
SECRET = "bench-webhook-secret-0123456789-abcdefghij"
# The durability floor's table (bench/views.py SqlInsertView).
FLOOR_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_floor (
    id bigserial PRIMARY KEY,
    body jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
SCENARIOS = [  # (name, lua script, what it is)
    ("ping", "ping.lua", "trivial DRF endpoint (GET)"),
    ("floor", "floor.lua", "raw-SQL insert, own transaction"),
    ("new", "payment_new.lua", "new successful_payment"),
    ("duplicate", "payment_dup.lua", "duplicate delivery"),
    ("refund", "refund.lua", "refund of a paid charge"),
    ("update", "update_new.lua", "new payment as a Bot API Update"),
]
LINK_INVOICE = "bench-link"  # one invoice link (anyone may pay it) that the "update" scenario pays


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_payments"))
    parser.add_argument("--duration", type=int, default=3, help="seconds per scenario and round (default 3)")
    parser.add_argument("--rounds", type=int, default=8,
                        help="scenarios run interleaved, round by round, so that load from other processes "
                             "on the machine falls on all of them alike (default 8)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    # gthread, 4 processes x 4 threads: 16 requests in flight for 16 connections, keep-alive (Telegram
    # reuses its connections; sync workers close each one), and 4 processes so that Python's GIL does
    # not hold two cores to one; a thread waiting on PostgreSQL lets another run. On this 2-core machine
    # it gave the most new payments per second of sync x4, sync x8, gthread 2x8 and 4x4 (README).
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--only", help="comma-separated scenarios (default all)")
    parser.add_argument("--keep-server", action="store_true", help="leave gunicorn running (profiling)")
    return parser.parse_args()


def recreate_database(url: str) -> None:
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if name in {"", "postgres", "test"} or not name.startswith("bench"):
        sys.exit(f"refusing to recreate database {name!r}: its name must start with 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(args) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "payments_project.settings",
        "DATABASE_URL": args.database_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-never-used-in-production-0123456789",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BENCH_ENDPOINTS": "1",
        "SECURE_SSL_REDIRECT": "0",  # plain http on loopback, no TLS proxy in front
        "LOG_LEVEL": "WARNING",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def prepare(args, env) -> None:
    recreate_database(args.database_url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "loaddata", "demo_catalog", "-v0"], env=env, cwd=ROOT, check=True)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(FLOOR_TABLE_SQL)
        conn.execute(
            "INSERT INTO telegram_payments_invoice (payload, user_id, product_id, price_stars, status, created_at) "
            "SELECT %s, NULL, id, price_stars, 'open', now() FROM telegram_payments_product "
            "WHERE entitlement_type = 'premium_monthly'",
            [LINK_INVOICE])


def start_server(args, env) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    command = [gunicorn, "payments_project.wsgi", "--config", str(Path(__file__).resolve().parent / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{args.port}",
               "--workers", str(args.workers), "--worker-class", args.worker_class,
               "--backlog", "2048", "--log-level", "warning"]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/bench/ping", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    stop_server(server)
    sys.exit("gunicorn did not answer /bench/ping")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def post(args, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{args.port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_wrk(args, script: str, outdir: Path, runid: str, duration: int, round_no: int = 0) -> dict:
    combined = outdir / f"script-{script}"
    combined.write_text((LUA / "common.lua").read_text() + "\n" + (LUA / script).read_text())
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{duration}s",
               "--timeout", "10s", "-s", str(combined), f"http://127.0.0.1:{args.port}",
               "--", str(outdir), runid, SECRET, str(round_no)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.removeprefix("BENCH_RESULT "))
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            result["errors"] = (result["socket_errors"] + result["non_2xx"] + result["timeouts"]
                                + result["unexpected"])
            if out.stderr.strip():
                result["stderr"] = out.stderr.strip()[:500]
            return result
    raise RuntimeError(f"no result from wrk: {out.stdout}\n{out.stderr}")


def tree_cpu(root: int) -> float | None:
    """CPU seconds (user + system) used so far by process `root` and its children, reaped or alive.

    A reaped child's time is in its parent's cutime/cstime, so a PostgreSQL backend that exits during
    a round (CONN_MAX_AGE) still counts. None where /proc cannot tell (another machine, not Linux)."""
    def stat(pid):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    try:
        own = stat(root)
    except OSError:
        return None
    ticks = sum(int(v) for v in own[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat(entry.name)
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == root:  # ppid
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def postmaster_pid(database_url: str) -> int | None:
    """The PostgreSQL server's main process, if it runs on this machine (the parent of our backend)."""
    with psycopg.connect(database_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def cpu_now(roots: dict) -> dict:
    return {name: tree_cpu(pid) if pid else None for name, pid in roots.items()}


def cpu_per_request(result: dict, part: str) -> str:
    """CPU ms per request of `part` ("app" or "db") over all rounds, or "-" where unknown."""
    seconds = [r.get(f"{part}_cpu_s") for r in result["rounds"]]
    if not result["requests"] or None in seconds:
        return "-"
    return f"{sum(seconds) * 1000 / result['requests']:.2f}"


def combine(rounds: list[dict]) -> dict:
    """One figure per scenario: req/s over all rounds; p50 and p99 the median of the rounds' values."""
    result = {key: sum(r[key] for r in rounds) for key in (
        "requests", "duration_us", "socket_errors", "non_2xx", "timeouts", "sent", "unexpected", "acked",
        "fresh", "errors")}
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    for key in ("p50_us", "p99_us"):
        result[key] = sorted(r[key] for r in rounds)[len(rounds) // 2]
    result["rounds"] = rounds
    stderr = [r["stderr"] for r in rounds if "stderr" in r]
    if stderr:
        result["stderr"] = stderr[0]
    return result


def read_acks(outdir: Path) -> list[str]:
    acks = []
    for path in sorted(outdir.glob("**/acks-*.txt")):
        acks += [line for line in path.read_text().splitlines() if line]
    return acks


def write_refund_inputs(args, runid: str, outdir: Path) -> int:
    with psycopg.connect(args.database_url) as conn:
        rows = conn.execute(
            "SELECT p.telegram_payment_charge_id, p.customer_id FROM stripe_events p "
            "WHERE p.event_id LIKE %s AND NOT EXISTS (SELECT 1 FROM stripe_events r "
            "WHERE r.event_id = 'tg_stars:refund:' || p.telegram_payment_charge_id) ORDER BY p.id",
            [f"tg_stars:payment:{runid}-p-%"]).fetchall()
    for t in range(args.wrk_threads):
        share = rows[t::args.wrk_threads]
        (outdir / f"refund-input-{t}.txt").write_text("".join(f"{c} {u}\n" for c, u in share))
    return len(rows)


def check_new_payments(conn, result: dict, name: str, outdir: Path, pattern: str, key: str) -> list[str]:
    """Every payment acknowledged as processed is stored, once, processed, with one grant.

    An ack is what identifies the payment in its answer (`key`): the event id, or for Updates, answered
    with the buyer's thank-you, the buyer (each Update is a new buyer)."""
    problems = []
    acked = read_acks(outdir)
    stored = dict(conn.execute(f"SELECT {key}, status FROM stripe_events WHERE event_id LIKE %s", [pattern]))
    grants = conn.execute("SELECT count(*) FROM entitlements WHERE event_id LIKE %s", [pattern]).fetchone()[0]
    sent = result["sent"]
    lost = [a for a in acked if a not in stored]
    result["check"] = (f"sent {sent}, acknowledged {len(acked)}, stored {len(stored)}, grants {grants}, "
                       f"lost {len(lost)}")
    if lost:
        problems.append(f"{name}: {len(lost)} acknowledged payments not stored, e.g. {lost[:3]}")
    if len(acked) != len(set(acked)):
        problems.append(f"{name}: a charge was acknowledged as processed twice")
    if any(status != 1 for status in stored.values()):
        problems.append(f"{name}: stored payments not processed")
    if grants != len(stored):
        problems.append(f"{name}: {len(stored)} payments but {grants} grants")
    if not len(acked) <= len(stored) <= sent:
        problems.append(f"{name}: stored {len(stored)} outside [acknowledged {len(acked)}, sent {sent}]")
    return problems


def verify(args, runid: str, results: dict, dirs: dict) -> list[str]:
    """Exactly once, checked in the database. Returns the problems found (empty: clean).

    All counts are read in one snapshot (REPEATABLE READ): requests wrk sent just before it stopped
    may still be committing, and counts read a moment apart would disagree by those.
    """
    problems = []
    with psycopg.connect(args.database_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ

        def scalar(sql, *params):
            return conn.execute(sql, params).fetchone()[0]

        for name, marker, key in (("new", "p", "event_id"), ("update", "u", "customer_id")):
            if name in results:
                pattern = f"tg_stars:payment:{runid}-{marker}-%"
                problems += check_new_payments(conn, results[name], name, dirs[name], pattern, key)
        if "duplicate" in results:
            events = scalar("SELECT count(*) FROM stripe_events WHERE telegram_payment_charge_id = %s",
                            f"{runid}-dup")
            grants = scalar("SELECT count(*) FROM entitlements WHERE event_id = %s",
                            f"tg_stars:payment:{runid}-dup")
            results["duplicate"]["check"] = f"1 charge sent {results['duplicate']['sent'] + 1} times: " \
                                            f"{events} event, {grants} grant"
            if (events, grants) != (1, 1):
                problems.append(f"duplicate: {events} events and {grants} grants for one charge")
        if "refund" in results:
            acked = read_acks(dirs["refund"])
            refunds = scalar("SELECT count(*) FROM stripe_events WHERE event_id LIKE %s",
                             f"tg_stars:refund:{runid}-p-%")
            unrevoked = scalar(
                "SELECT count(*) FROM stripe_events r JOIN entitlements e "
                "ON e.event_id = 'tg_stars:payment:' || r.telegram_payment_charge_id "
                "WHERE r.event_id LIKE %s AND e.revoked_at IS NULL", f"tg_stars:refund:{runid}-p-%")
            paid_acked = [a for a in acked if f"{runid}-p-" in a]
            results["refund"]["check"] = (f"acknowledged {len(acked)} ({results['refund']['fresh']} of "
                                          f"never-paid charges), stored {refunds} of paid charges, "
                                          f"grants left unrevoked {unrevoked}")
            if unrevoked:
                problems.append(f"refund: {unrevoked} refunded payments still have an active grant")
            if len(acked) != len(set(acked)):
                problems.append("refund: a refund was acknowledged as processed twice")
            if not len(paid_acked) <= refunds:
                problems.append(f"refund: {len(paid_acked)} acknowledged but {refunds} stored")
        if "floor" in results:
            rows = scalar("SELECT count(*) FROM bench_floor WHERE body->>'telegram_payment_charge_id' LIKE %s",
                          f"{runid}-f-%")
            results["floor"]["check"] = f"{rows} rows"
    for name, result in results.items():
        if result["errors"]:
            problems.append(f"{name}: {result['errors']} errors {result.get('stderr', '')}")
    return problems


def round_ratios(result: dict, base: dict, key: str) -> list[float]:
    """result/base in each round, against the baseline run just before it.

    The machine's speed drifts (shared hosts: a scenario's rate changed by 2-3x from one round to
    the next here), so a ratio is only fair between measurements taken close together in time.
    """
    return [r[key] / b[key] for r, b in zip(result["rounds"], base["rounds"], strict=True) if b[key]]


def round_ratio(result: dict, base: dict, key: str) -> float:
    """The median of `round_ratios`: the figure the table and the targets use."""
    values = round_ratios(result, base, key)
    return statistics.median(values) if values else float("nan")


def spread(result: dict, base: dict, key: str) -> str:
    """The middle half of the rounds' ratios (quartiles): how far one run's figure can be trusted."""
    values = sorted(round_ratios(result, base, key))
    if len(values) < 4:
        return ""
    low, _, high = statistics.quantiles(values, n=4)
    return f" (middle half of rounds {low:.2f}-{high:.2f})"


def per_second(round_result: dict) -> float:
    return round_result["requests"] / (round_result["duration_us"] / 1e6)


def with_rps(result: dict) -> dict:
    for r in result["rounds"]:
        r["rps"] = per_second(r)
    return result


def table(results: dict) -> str:
    floor, ping = results.get("floor"), results.get("ping")
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | errors | req/s vs floor | req/s vs ping | p99 vs floor "
        "| app CPU ms/req | db CPU ms/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    def vs(result, base, key):
        return f"{round_ratio(result, base, key):.2f}x" if base else "-"

    for name, _script, what in SCENARIOS:
        if name not in results:
            continue
        r = results[name]
        lines.append(
            f"| {name}: {what} | {r['rps']:.0f} | {r['p50_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f} "
            f"| {r['errors']} | {vs(r, floor, 'rps')} | {vs(r, ping, 'rps')} | {vs(r, floor, 'p99_us')} "
            f"| {cpu_per_request(r, 'app')} | {cpu_per_request(r, 'db')} |")
    return "\n".join(lines)


def targets(results: dict, problems: list[str]) -> list[str]:
    checks = []
    if {"new", "floor"} <= results.keys():
        new, floor = results["new"], results["floor"]
        throughput, tail = round_ratio(new, floor, "rps"), round_ratio(new, floor, "p99_us")
        checks.append(("new payments >= 0.80x floor req/s", throughput >= 0.8,
                       f"{throughput:.2f}x{spread(new, floor, 'rps')}"))
        checks.append(("new payments p99 <= 1.5x floor p99", tail <= 1.5, f"{tail:.2f}x{spread(new, floor, 'p99_us')}"))
    if {"duplicate", "ping"} <= results.keys():
        duplicate, ping = results["duplicate"], results["ping"]
        duplicates = round_ratio(duplicate, ping, "rps")
        checks.append(("duplicates >= 0.60x ping req/s", duplicates >= 0.6,
                       f"{duplicates:.2f}x{spread(duplicate, ping, 'rps')}"))
    checks.append(("zero errors, nothing lost or doubled", not problems, f"{len(problems)} problems"))
    return [f"  [{'PASS' if ok else 'FAIL'}] {what}: {value}" for what, ok, value in checks]


def main() -> int:
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    only = set(args.only.split(",")) if args.only else {name for name, _, _ in SCENARIOS}
    env = server_env(args)
    prepare(args, env)
    server = start_server(args, env)
    cpu_roots = {"app": server.pid, "db": postmaster_pid(args.database_url)}
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    clean = True
    try:
        run_wrk(args, "ping.lua", workdir, "warmup0", 2)  # every worker imports, connects, warms up
        for run in range(1, args.runs + 1):
            runid = f"b{int(time.time())}r{run}"
            rounds, dirs = {}, {}
            for name in only:
                dirs[name] = workdir / f"{runid}-{name}"
                dirs[name].mkdir()
            if "duplicate" in only:
                post(args, "/webhook/telegram/successful_payment", {
                    "user_id": 999, "entitlement_type": "premium_monthly", "invoice_id": "",
                    "telegram_payment_charge_id": f"{runid}-dup", "provider_payment_charge_id": "",
                    "total_amount": 250, "currency": "XTR"})
            for round_no in range(args.rounds):
                for name, script, _ in SCENARIOS:
                    if name not in only:
                        continue
                    outdir = dirs[name] / f"round{round_no}"
                    outdir.mkdir()
                    if name == "refund":
                        write_refund_inputs(args, runid, outdir)
                    before = cpu_now(cpu_roots)
                    result = run_wrk(args, script, outdir, runid, args.duration, round_no)
                    after = cpu_now(cpu_roots)
                    for part in cpu_roots:
                        if before[part] is not None and after[part] is not None:
                            result[f"{part}_cpu_s"] = after[part] - before[part]
                    rounds.setdefault(name, []).append(result)
            results = {name: with_rps(combine(r)) for name, r in rounds.items()}
            problems = verify(args, runid, results, dirs)
            clean = clean and not problems
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            print(f"\nRun {run}/{args.runs}, {stamp}, {os.cpu_count()} CPUs, gunicorn {args.workers} "
                  f"{args.worker_class} workers, wrk {args.connections} connections, "
                  f"{args.rounds} rounds x {args.duration}s per scenario")
            print(table(results))
            for name, result in results.items():
                if "check" in result:
                    print(f"  {name}: {result['check']}")
            print("\n".join(targets(results, problems)))
            for problem in problems:
                print(f"  PROBLEM {problem}")
            results_dir = ROOT / "bench" / "results"
            results_dir.mkdir(exist_ok=True)
            (results_dir / f"{runid}.json").write_text(json.dumps(
                {"at": stamp, "args": vars(args), "results": results, "problems": problems}, indent=2))
    finally:
        if args.keep_server:
            print(f"gunicorn left running, process group {server.pid}")
        else:
            stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
