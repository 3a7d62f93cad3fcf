"""The Celery side's client in tools/bench (scenarios 12 and 13).

The Go harness runs it once per measured block, so the figures are those
of Celery's own Python client (apply_async, then AsyncResult.get on the Redis
result backend), as the seed submits jobs. It prints one JSON object on
stdout; everything else goes to stderr.

  driver.py ping                      one job of each kind: the worker runs
  driver.py block KIND JOBS CONC      a closed loop: CONC threads each submit
                                      a job and wait for its result until
                                      JOBS have run (after CONC untimed)
  driver.py loss PREFIX JOBS BOUND    submit JOBS count_words tasks with ids
                                      PREFIX-0.. on URLs $BENCH_LOSS_URL/<id>,
                                      and wait at most BOUND seconds in all
                                      for their outcomes

KIND is single (the sum as one task) or chain (validate | sum | finish).
"""

import json
import os
import sys
import threading
import time

from celery import chain

from app import app, count_words, finish, sum_job, sum_step, validate

# Docket's trivial job's input and result (tools/bench/clients.go).
TRIVIAL = {"start": 1, "end": 10, "work_ms": 0}
TRIVIAL_SUM = 55
# One job's wait for its result, as the Go harness's requestTimeout.
RESULT_TIMEOUT = 60


def run_one(kind):
    """Submit one trivial job of kind and wait for its result."""
    if kind == "single":
        res = sum_job.apply_async(args=[TRIVIAL])
    elif kind == "chain":
        res = chain(validate.s(TRIVIAL), sum_step.s(), finish.s()).apply_async()
    else:
        raise ValueError(f"unknown kind {kind!r}")
    out = res.get(timeout=RESULT_TIMEOUT)
    # The result is read, so Redis can drop it now rather than in a day.
    res.forget()
    if out.get("sum") != TRIVIAL_SUM:
        raise RuntimeError(f"task {res.id}: sum {out.get('sum')}, want {TRIVIAL_SUM}")


def closed_loop(kind, jobs, conc):
    """conc threads run jobs jobs between them; latencies in nanoseconds."""
    lat, errors, first = [], 0, None
    lock = threading.Lock()
    left = [jobs]

    def client():
        nonlocal errors, first
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            t0 = time.perf_counter_ns()
            try:
                run_one(kind)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with lock:
                    errors += 1
                    first = first or f"{type(e).__name__}: {e}"
                continue
            d = time.perf_counter_ns() - t0
            with lock:
                lat.append(d)

    threads = [threading.Thread(target=client) for _ in range(conc)]
    t0 = time.perf_counter_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"lat_ns": lat, "errors": errors, "first_error": first, "elapsed_ns": time.perf_counter_ns() - t0}


def loss(prefix, jobs, bound):
    """Submit jobs count_words tasks, then wait for each one's outcome."""
    base = os.environ["BENCH_LOSS_URL"].rstrip("/")
    submitted = []
    for i in range(jobs):
        tid = f"{prefix}-{i}"
        submitted.append((tid, count_words.apply_async(args=[f"{base}/{tid}"], task_id=tid)))
    deadline = time.monotonic() + bound
    out = []
    for tid, res in submitted:
        left = max(0.1, deadline - time.monotonic())
        state, err = "PENDING", None
        try:
            res.get(timeout=left, propagate=False)
            state = res.state
            if state != "SUCCESS":
                err = f"{type(res.result).__name__}: {res.result}"
        except Exception as e:  # noqa: BLE001 - a timeout is an outcome too
            state, err = res.state, f"{type(e).__name__}: {e}"
        out.append({"id": tid, "state": state, "error": err})
    return {"jobs": out}


def main(argv):
    op = argv[1] if len(argv) > 1 else ""
    if op == "ping":
        run_one("single")
        run_one("chain")
        out = {"ok": True}
    elif op == "block":
        kind, jobs, conc = argv[2], int(argv[3]), int(argv[4])
        closed_loop(kind, conc, conc)  # warm-up: connections, pools
        out = closed_loop(kind, jobs, conc)
    elif op == "loss":
        out = loss(argv[2], int(argv[3]), float(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # The app's broker connection is made on first use, in the threads.
    app.loader.import_default_modules()
    sys.exit(main(sys.argv))
