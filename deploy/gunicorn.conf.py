"""gunicorn for the portal's web processes: `gunicorn -c deploy/gunicorn.conf.py portal.wsgi`.

Every value can be changed from the environment (names below); `gunicorn --check-config` validates the file (CI).
"""

import glob
import multiprocessing
import os

# Listen behind nginx (deploy/nginx/portal.conf) or the load balancer.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# gthread workers: a request runs in a thread while the worker's main loop keeps telling the master it is alive,
# so a long streamed CSV export is not killed after `timeout` (the default sync worker kills it at 30 s).
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A worker whose main loop is stuck this long is restarted; requests themselves are not bounded by it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then (a slow leak never grows for long), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "500"))
# Heartbeat files in memory, not on a container's overlay disk.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else None)

# Only the proxy in front may set X-Forwarded-Proto/-For (the portal itself reads X-Forwarded-For only behind
# TRUSTED_PROXY_COUNT proxies).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs: JSON lines on stdout, the access log with the request id the portal answers (X-Request-ID).
accesslog = "-"
errorlog = "-"
access_log_format = '%(m)s %(U)s %(s)s %(M)sms'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "portal.logs.ContextFilter"}},
    "formatters": {"json": {"()": "portal.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json",
                             "filters": ["context"]}},
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False, "qualname": "gunicorn.error"},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False,
                            "qualname": "gunicorn.access"},
    },
}

# Metrics: each worker counts in PROMETHEUS_MULTIPROC_DIR (set before the workers import anything); /metrics
# adds up every process kind's folder under its parent (METRICS_ROOT).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/run/portal/metrics/web")


def on_starting(server):
    """Start the web's counters afresh: its folder holds only the files of this gunicorn's workers."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for path in glob.glob(os.path.join(folder, "*.db")):
        os.unlink(path)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
