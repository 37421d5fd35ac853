"""Real HTTP to the live test server: one POST, and many released at the same instant."""

import json
import threading
import urllib.error
import urllib.request

from django.db import connections


def post(url: str, body: dict, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run_at_once(jobs: list[tuple[str, dict]], secret: str) -> list[tuple[int, dict]]:
    """POST each (url, body) from its own thread, all released together by a barrier; [(status, json)]."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(i, url, body):
        barrier.wait()
        results[i] = post(url, body, secret)

    threads = [threading.Thread(target=worker, args=(i, url, body)) for i, (url, body) in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.close_all()
    return results
