"""Throughput of the working-day calendar (not a test).

    python benchmarks/calendar_bench.py [--calls N] [--seed S]

Prints operations per second for add_workdays, workdays_between, sub_workdays, is_workday and
deadline with 2 pauses, over random dates in the covered years 2004–2026 (with pauses of up to 10 days), plus the time to load
the shipped calendar (cold: parsing and checking 23 year files; warm: the cache).
Rates are computed from the process's CPU time (stable on a shared machine); the wall-clock rate
is shown next to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300_000, help="calls per operation")
    ap.add_argument("--seed", type=int, default=20250101)
    args = ap.parse_args()

    from govsup.engine.calendar import clear_calendar_cache, load_calendar

    clear_calendar_cache()
    t0 = time.perf_counter()
    cal = load_calendar(None)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_calendar(None)
    warm = time.perf_counter() - t0

    rng = random.Random(args.seed)
    lo = dt.date(2004, 4, 1).toordinal()   # room to count 60 working days back ...
    hi = dt.date(2026, 6, 30).toordinal()  # ... and forward (with pauses) inside 2004–2026
    n = args.calls
    days = [dt.date.fromordinal(rng.randint(lo, hi)) for _ in range(n)]
    others = [dt.date.fromordinal(rng.randint(lo, hi)) for _ in range(n)]
    counts = [rng.randint(1, 60) for _ in range(n)]
    pauses = []
    for d in days:
        p1 = d + dt.timedelta(days=rng.randint(0, 20))
        p2 = p1 + dt.timedelta(days=rng.randint(5, 30))
        pauses.append(((p1, p1 + dt.timedelta(days=rng.randint(0, 10))),
                       (p2, p2 + dt.timedelta(days=rng.randint(0, 10)))))

    def bench(name, fn):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        print(f"{name:<34} {n / cpu:>12,.0f} ops/s   ({cpu * 1e6 / n:6.2f} µs/call; "
              f"wall clock {n / wall:,.0f} ops/s)")

    print(f"python {platform.python_version()} on {platform.machine()} — {n:,} calls each "
          f"(ops/s from CPU time)")
    print(f"load_calendar (cold, 23 files)     {cold * 1000:8.1f} ms")
    print(f"load_calendar (warm, cached)       {warm * 1000:8.3f} ms")
    bench("is_workday", lambda: [cal.is_workday(d) for d in days])
    bench("add_workdays(d, 1..60)", lambda: [cal.add_workdays(d, k) for d, k in zip(days, counts)])
    bench("add_workdays(d, -(1..60))",
          lambda: [cal.add_workdays(d, -k) for d, k in zip(others, counts)])
    bench("workdays_between(a, b)", lambda: [cal.workdays_between(a, b)
                                             for a, b in zip(days, others)])
    bench("sub_workdays(d, 1..60)", lambda: [cal.sub_workdays(d, k) for d, k in zip(others, counts)])
    bench("deadline(d, 1..60, 2 pauses)",
          lambda: [cal.deadline(d, k, p) for d, k, p in zip(days, counts, pauses)])
    bench("countdown_on(d, n, 2, 2 pauses)",
          lambda: [cal.countdown_on(d, k, 2, p) for d, k, p in zip(days, counts, pauses)])


if __name__ == "__main__":
    sys.exit(main())
