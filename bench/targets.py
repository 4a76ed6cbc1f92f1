#!/usr/bin/env python3
"""procd against the issue's targets, from one bench/run.sh results directory.

usage: python3 bench/targets.py DIR     (DIR holds main.jsonl, optionally
                                         delay0.jsonl and logfile.jsonl)

Every ratio uses the reference measured in the same run (spawn floor, cat).
Cells: median (min–max) over repetitions; restart: over all kills.
"""
import json
import statistics
import sys
from pathlib import Path


def load(p):
    p = Path(p)
    return [json.loads(l) for l in p.open() if l.strip()] if p.exists() else []


def pick(rs, driver, test, n=None):
    return [r for r in rs if r.get("driver") == driver and r.get("test") == test
            and (n is None or r.get("n") == n) and not r.get("error")]


def vals(rs, key):
    return [r[key] for r in rs if r.get(key) is not None]


def flat(rs, key, skip=0):
    return [v for r in rs for v in (r.get(key) or [])[skip:] if v is not None]


def cell(xs, unit="", fmt="%.3g"):
    if not xs:
        return "—"
    m = statistics.median(xs)
    if len(xs) == 1:
        return (fmt % m) + unit
    return "%s%s (%s–%s)" % (fmt % m, unit, fmt % min(xs), fmt % max(xs))


def verdict(ok):
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def main():
    d = Path(sys.argv[1])
    rs = load(d / "main.jsonl")
    z = load(d / "delay0.jsonl")
    lf = load(d / "logfile.jsonl")
    rows = []
    floor = vals(pick(rs, "(reference)", "spawn-floor"), "per_spawn_us")
    floor_ms = statistics.median(floor) / 1000.0 if floor else None
    rows.append(("spawn floor (posix_spawn+wait, per spawn)", cell(floor, " µs"), "", "reference", None))
    for n in (10, 100, 1000):
        xs = vals(pick(rs, "procd", "startup", n), "startup_ms")
        if xs and floor_ms:
            ratio = statistics.median(xs) / (floor_ms * n)
            rows.append(("startup N=%d" % n, cell(xs, " ms"), "×%.2f of floor (%.0f ms)" % (ratio, floor_ms * n),
                         "≤ 1.5× floor", ratio <= 1.5))
        elif xs:
            rows.append(("startup N=%d" % n, cell(xs, " ms"), "no floor", "≤ 1.5× floor", None))
    for n in (100, 1000):
        st = pick(rs, "procd", "startup", n)
        rss, pss = vals(st, "rss_mib"), vals(st, "pss_mib")
        if rss:
            rows.append(("RSS N=%d" % n, cell(rss, " MiB"), "", "≤ 8 MiB" if n == 100 else "(reported)",
                         statistics.median(rss) <= 8 if n == 100 else None))
        if pss:
            rows.append(("PSS N=%d" % n, cell(pss, " MiB"), "", "≤ 4 MiB" if n == 100 else "(reported)",
                         statistics.median(pss) <= 4 if n == 100 else None))
    idle = pick(rs, "procd", "idle")
    if idle:
        cs = vals(idle, "ctxsw")
        rows.append(("idle ctx switches, 10 s, N=100", cell(cs, fmt="%g"), "CPU %s" % cell(vals(idle, "cpu_ms"), " ms"),
                     "0", max(cs) == 0 if cs else None))
    for label, src, delay in (("restart, child up >1 s, delay_ms 100 (default)", rs, 100),
                              ("restart, child up >1 s, delay_ms 0", z, 0)):
        lat = flat(pick(src, "procd", "restart"), "latencies_ms")
        if lat:
            beyond = statistics.median(lat) - delay
            rows.append((label, cell(lat, " ms"), "%.2f ms beyond the delay" % beyond, "≤ 2 ms beyond delay",
                         beyond <= 2.0))
    for label, src, delay in (("restart, crash loop, delay_ms 100", rs, 100),
                              ("restart, crash loop, delay_ms 0", z, 0)):
        lat = flat(pick(src, "procd", "restart-crash"), "latencies_ms", skip=1)
        if lat:
            beyond = statistics.median(lat) - delay
            rows.append((label, cell(lat, " ms"), "%.2f ms beyond the delay" % beyond, "≤ 2 ms beyond delay",
                         beyond <= 2.0))
    sd = vals(pick(rs, "procd", "shutdown", 100), "shutdown_ms")
    if sd:
        rows.append(("shutdown N=100", cell(sd, " ms"), "", "≤ 100 ms", statistics.median(sd) <= 100))
    for label, ref, mine in (("log 200 MiB → procd's own log (harness `logs`)",
                              pick(rs, "(reference)", "raw-log"), pick(rs, "procd", "logs")),
                             ("log 200 MiB → per-service file (logfile_bench.py)",
                              pick(lf, "(reference)", "raw-log"), pick(lf, "procd-file", "logs"))):
        a, b = vals(ref, "log_s"), vals(mine, "log_s")
        lost = vals(mine, "lost_bytes")
        if a and b:
            pct = 100.0 * statistics.median(a) / statistics.median(b)
            rows.append((label, cell(b, " s"), "%.0f %% of cat (%s s); lost %s B" % (
                pct, cell(a, fmt="%.3f"), cell(lost, fmt="%d")), "≥ 75 % of cat, 0 lost",
                pct >= 75 and bool(lost) and max(lost) <= 0))
        elif mine:
            rows.append((label, "—", "errors: %s" % mine[0].get("error", "")[:80], "≥ 75 % of cat, 0 lost", False))
    print("| measure | procd | vs reference | target | verdict |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s |" % (r[0], r[1], r[2], r[3], verdict(r[4])))
    errs = [r for r in rs + z + lf if r.get("error") and r.get("driver") in ("procd", "procd-file", None, "(reference)")]
    if errs:
        print()
        print("procd/reference errors: " + "; ".join("%s n=%s: %s" % (r.get("test"), r.get("n"), r["error"][:160])
                                                   for r in errs))


if __name__ == "__main__":
    main()
