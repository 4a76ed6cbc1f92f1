"""A/B of two procd binaries (BEFORE, AFTER: paths) with the shared harness, alternated run by run: startup N=1000 and 100 (time, RSS), shutdown N=100, restart N=10; prints medians as a markdown table.

    BEFORE=/tmp/procd-0.2 AFTER=build-bench/procd python3 bench/ab_bench.py [REPS]
"""
import json, statistics, subprocess, sys, os

HARNESS = os.environ.get("PBENCH_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench-peers")
bins = {"before": os.environ.get("BEFORE", "/tmp/procd-base"), "after": os.environ.get("AFTER", "/tmp/procd-new4")}
tests = [("startup", 1000, ["startup_ms", "rss_kib", "pss_kib"]), ("startup", 100, ["startup_ms", "rss_kib"]),
         ("shutdown", 100, None), ("restart", 10, None)]
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
res = {}
for rep in range(reps):
    for test, n, keys in tests:
        for name, path in (bins.items() if rep % 2 == 0 else reversed(list(bins.items()))):
            env = dict(os.environ, PROCD_BIN=path)
            out = subprocess.run([sys.executable, "run.py", "--driver", "procd", "--test", test, "--n", str(n), "--load-limit", "50"],
                                 cwd=HARNESS, env=env, capture_output=True, text=True, timeout=600)
            try:
                d = json.loads(out.stdout)
            except Exception:
                print("ERR", name, test, n, out.stderr[-300:], flush=True); continue
            for k, v in d.items():
                if isinstance(v, (int, float)) and (keys is None or k in keys):
                    res.setdefault((test, n, k, name), []).append(v)
            print(rep, name, test, n, {k: v for k, v in d.items() if isinstance(v, (int, float)) and (keys is None or k in keys)}, flush=True)
print("\n| test | figure | before (median) | after (median) | after/before |")
print("|---|---|---|---|---|")
seen = sorted({(t, n, k) for (t, n, k, _) in res})
for t, n, k in seen:
    b = res.get((t, n, k, "before")); a = res.get((t, n, k, "after"))
    if not b or not a: continue
    mb, ma = statistics.median(b), statistics.median(a)
    print("| %s N=%d | %s | %.4g | %.4g | %s |" % (t, n, k, mb, ma, ("%.2f" % (ma / mb)) if mb else "-"))
