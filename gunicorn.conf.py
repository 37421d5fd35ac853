"""gunicorn configuration for production: `gunicorn payments_project.wsgi` reads this file.

Everything can be set from the environment:

| variable | default | meaning |
| --- | --- | --- |
| GUNICORN_BIND | 0.0.0.0:$PORT (PORT defaults to 8000) | address to listen on |
| WEB_CONCURRENCY | 2 x CPUs + 1 | worker processes |
| GUNICORN_THREADS | 1 | threads per worker |
| GUNICORN_TIMEOUT | 30 | seconds a request may take before its worker is restarted |
| GUNICORN_FORWARDED_ALLOW_IPS | 127.0.0.1 | proxies whose X-Forwarded-Proto is trusted (https) |
| GUNICORN_CONTROL_SOCKET | unset: no control socket | a path of this instance's own for `gunicornc` |
| PROMETHEUS_MULTIPROC_DIR | unset | a directory for the workers' metrics (see README, Metrics) |

Access log and error log go to stdout/stderr, for the process manager to collect.
"""

import multiprocessing
import os
import re
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("GUNICORN_THREADS") or 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)
# Restart workers now and then so that a slow leak never grows; jitter avoids all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 2000)
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER") or 200)
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# From those proxies, only X-Forwarded-Proto: https means "the client came over TLS" (gunicorn's
# default also takes X-Forwarded-Protocol and X-Forwarded-Ssl). X-Forwarded-For reaches the app as
# a header (TRUSTED_PROXY_COUNT picks the client from it).
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
# No SCRIPT_NAME / PATH_INFO / REMOTE_USER from headers, even from a trusted proxy: with gunicorn's
# default a `SCRIPT_NAME: /public` header would serve /metrics at /public/metrics past the proxy's rules.
forwarder_headers = ""
# gunicorn's control socket (for `gunicornc`) defaults to one path per user, which two instances on
# one host would fight over: off unless given a path of this instance's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
backlog = 2048

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# No query string and no headers: nothing secret can reach the access log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'

# A stored bot's webhook path is unguessable, so that only Telegram knows where to post its Updates:
# the access log shows it masked (the app's own log line names the bot by its slug).
BOT_PATH = re.compile(r"^(/webhook/bot/)[^/]+")


class AccessLogger(Logger):
    """gunicorn's logger, with a bot's webhook path masked in the access log's URL atoms."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r"):
            if isinstance(atoms.get(key), str) and "/webhook/bot/" in atoms[key]:
                method, _, rest = atoms[key].partition(" ") if key == "r" else ("", "", atoms[key])
                masked = BOT_PATH.sub(r"\1…", rest)
                atoms[key] = f"{method} {masked}" if key == "r" else masked
        return atoms


logger_class = AccessLogger

# Heartbeat files in memory, not on a possibly slow disk.
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"


def on_starting(server):
    """Start each server run with an empty metrics directory (stale files would add old counts)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # only the client library's files
            stale.unlink()


def post_worker_init(worker):
    """Once the app is loaded, move what importing it made (Django, DRF, ...) out of the garbage
    collector's reach: full collections then walk only what requests make (for tail latency)."""
    import gc

    gc.freeze()


def child_exit(server, worker):
    """Tell prometheus_client a worker is gone, so its gauges stop counting (counters are kept)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
