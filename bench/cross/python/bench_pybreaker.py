"""pybreaker on the cross-language workload, measured with pyperf.

A closed call of a no-op, a refused call (CircuitBreakerError, caught) and one breaker shared by 2
threads (time per call over both threads). Each timed loop makes BATCH calls, as the Node suite does.
Under the GIL only one thread runs Python code at a time, so 2 threads cannot be faster than one:
the shared case measures what contention (the GIL hand-offs and pybreaker's lock) costs.

    python bench_pybreaker.py --fast            # what `npm run bench:cross` runs
    python bench_pybreaker.py                   # pyperf's default: 20 processes

The main process writes {name: {median, stdev, values}} (seconds per call) to $BENCH_SUMMARY.
"""

import json
import os
import threading
import time

import pybreaker
import pyperf

BATCH = 100
HOUR = 3600


def noop():
    return 42


def closed_breaker():
    return pybreaker.CircuitBreaker(fail_max=5, reset_timeout=HOUR)


def open_breaker():
    breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=HOUR)
    try:
        breaker.open()
    except pybreaker.CircuitBreakerError:
        pass
    assert breaker.current_state == "open"
    return breaker


def closed_call(loops):
    call = closed_breaker().call
    start = time.perf_counter()
    for _ in range(loops):
        for _ in range(BATCH):
            call(noop)
    return time.perf_counter() - start


def refused_call(loops):
    call = open_breaker().call
    refused = pybreaker.CircuitBreakerError
    start = time.perf_counter()
    for _ in range(loops):
        for _ in range(BATCH):
            try:
                call(noop)
            except refused:
                pass
    return time.perf_counter() - start


def shared_closed_call(loops, threads=2):
    call = closed_breaker().call
    barrier = threading.Barrier(threads + 1)

    def work():
        barrier.wait()
        for _ in range(loops):
            for _ in range(BATCH):
                call(noop)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    start = time.perf_counter()
    barrier.wait()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def main():
    runner = pyperf.Runner()
    runner.metadata["pybreaker"] = pybreaker.__dict__.get("__version__", "1.4.1")
    cases = [
        ("closed call", closed_call, BATCH),
        ("refused call", refused_call, BATCH),
        ("2 threads, one breaker", shared_closed_call, 2 * BATCH),
    ]
    summary = {}
    for name, func, inner in cases:
        bench = runner.bench_time_func(name, func, inner_loops=inner)
        if bench is not None and not runner.args.worker:
            values = list(bench.get_values())
            summary[name] = {
                "median": bench.median(),
                "stdev": bench.stdev() if len(values) > 1 else 0.0,
                "values": values,
            }
    out = os.environ.get("BENCH_SUMMARY")
    if out and summary:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(summary, f)


if __name__ == "__main__":
    main()
