"""gunicorn settings for bench/run.py (passed with --config, so the production gunicorn.conf.py is not read).

Like the production file, it calls gc.freeze() once a worker has loaded the app. Unlike it: the
production file restarts each worker every ~2000 requests (max_requests); under benchmark load
that is every few seconds per worker, so a run would measure Django's start-up, not requests. Its
access log would print one line per request into the benchmark's output. Workers, threads, bind
and log level come from run.py's command line.
"""

backlog = 2048
keepalive = 5  # as in production: wrk, like Telegram, keeps its connections open
max_requests = 0
accesslog = None
errorlog = "-"
worker_tmp_dir = "/dev/shm"


def post_worker_init(worker):
    import gc

    gc.freeze()  # as in the production gunicorn.conf.py
