"""The loop of a long-running management command worker (deliver_outbox, refund_unfulfillable)."""

import logging
import signal
import time
from collections.abc import Callable

from django.db import DatabaseError, close_old_connections


def run_until_stopped(name: str, work_one: Callable[[], object], *, poll_interval: float, stdout,
                      logger: logging.Logger) -> None:
    """Call `work_one()` until SIGTERM/SIGINT (the item in flight is finished first).

    `work_one` returns None when nothing was due: the loop then waits `poll_interval` seconds. A
    database error (the database restarting) is logged, the connection dropped, and the loop waits.
    """
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    stdout.write(f"{name}: running (SIGTERM to stop)")
    while not stopping:
        try:
            result = work_one()
        except DatabaseError as exc:
            logger.warning("%s: database error %s; retrying", name, type(exc).__name__)
            close_old_connections()
            result = None
        if result is None:
            time.sleep(poll_interval)
    stdout.write(f"{name}: stopped")
