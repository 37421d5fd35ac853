"""Start and stop the tests' loopback HTTP servers (the fake Bot API, the outbox's receiver) in a thread.

`serve_forever()` checks for a shutdown request once per poll interval (half a second by default),
so a short interval lets `stop()` return at once instead of making every teardown wait.
"""

import threading
from socketserver import BaseServer

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
