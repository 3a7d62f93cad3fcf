"""The seed's Celery stack, as `make bench` runs it beside Docket.

Scenarios 12 and 13 of tools/bench start a Redis server on a loopback port
of their own (data in the run's scratch folder), one Celery worker on this
app with the settings below, and tools/bench/celery/driver.py as the client.
Only Debian's packages are used (python3-celery, python3-redis,
redis-server): `make bench` installs them when they are missing.

BENCH_REDIS_URL names the Redis server; it is both the broker and the
result backend.
"""

import os
import re
import time
import urllib.request

from celery import Celery


def make_app():
    """The Celery app with the seed's settings."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    app = Celery("docketbench", broker=url, backend=url)
    app.conf.update(
        # A task is acknowledged once it has run, not when a worker takes
        # it: a worker that dies mid-task should leave it to be run again.
        task_acks_late=True,
        # Each pool process reserves one task at a time (prefetch 1), so a
        # slow task does not hold others back behind it.
        worker_prefetch_multiplier=1,
        # Two worker processes (a prefork pool of two), one per core of
        # the machine the benchmark runs on.
        worker_concurrency=2,
        worker_pool="prefork",
        # JSON both ways, as Docket's API speaks.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # Results stay a day in Redis, as Celery's default; the bench reads
        # them at once.
        result_expires=86400,
        # The worker's own logging only; the bench reads results, not logs.
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


app = make_app()


# --- The trivial job ---------------------------------------------------------
# Docket's trivial job (tools/bench/clients.go, trivialBody) is a sum of
# 1..10 with no simulated work. On Docket it takes three dispatches: a
# workflow task (validate the input, set the job up and schedule the step),
# the sum activity, and a workflow task (record the outcome and complete).
# Scenario 12 runs two Celery equivalents: the sum as one task (what a Celery
# user would write), and a three-task chain validate | sum | finish, one task
# per dispatch of Docket's job.


def _sum_of(start, end):
    """The sum of start..end and how many integers that is."""
    n = end - start + 1
    return {"sum": n * (start + end) // 2, "count": n}


def _validate(inp):
    """Docket's checks of a sum's input (job/sum.go, SumInput.Normalize)."""
    start, end = inp.get("start"), inp.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        raise ValueError("input.start and input.end are required integers")
    if start > end:
        raise ValueError("input.end must not be less than input.start")
    return {"start": start, "end": end}


@app.task(name="bench.sum")
def sum_job(inp):
    """The one-task trivial job: validate and sum in one task."""
    inp = _validate(inp)
    return _sum_of(inp["start"], inp["end"])


@app.task(name="bench.validate")
def validate(inp):
    """First task of the chain: the input's checks."""
    return _validate(inp)


@app.task(name="bench.sum_step")
def sum_step(inp):
    """Second task of the chain: the sum itself."""
    return _sum_of(inp["start"], inp["end"])


@app.task(name="bench.finish")
def finish(result):
    """Last task of the chain: the outcome, which the result backend stores."""
    return result


# --- The loss experiment -----------------------------------------------------
# Scenario 13 runs the same 5-second job on both systems: fetch a URL from
# the bench's counting server, which holds each answer for the job's length
# and counts every request per job (the side effect that shows whether a
# job's body ran twice), then count the words, as Docket's wordcount job
# does. The task adds its process id to the URL so that the bench knows
# which pool process to kill.


@app.task(name="bench.count_words")
def count_words(url):
    """Fetch url and count its words."""
    sep = "&" if "?" in url else "?"
    with urllib.request.urlopen(f"{url}{sep}pid={os.getpid()}", timeout=60) as resp:
        text = resp.read().decode("utf-8", "replace")
    return {"words": len(re.findall(r"\w+", text)), "pid": os.getpid(), "at": time.time()}
