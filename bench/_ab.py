import os, sys, cProfile, pstats, time, statistics
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()
from bench.inprocess import Bench, MALFORMED
bench = Bench()
cases = {
 "refusal": bench.get("/bare/refuse", MALFORMED),
 "malformed": bench.get("/m2m/products", MALFORMED),
 "bare_get": bench.get("/bare"),
 "seen": bench.get("/m2m/products", bench.seen),
 "first": bench.get_each("/m2m/products", iter(bench.mint(3000, bench.fixture["audience"], ["read:products"]))),
 "sjwt": bench.get("/sjwt/products", bench.seen),
 "bare_post": bench.post("/bare", bench.token_body, bench.basic),
 "token": bench.post("/oidc/token", bench.token_body, bench.basic),
}
from bench.inprocess import raw_pyjwt_cases
for c in raw_pyjwt_cases(bench, 1): cases[c.name] = c.run
for f in cases.values():
    for _ in range(50): f()
res = {k: [] for k in cases}
for r in range(20):
    for k, f in cases.items():
        for _ in range(50):
            t = time.thread_time_ns(); f(); res[k].append(time.thread_time_ns() - t)
for k, v in res.items(): print(k, "cpu median us", statistics.median(v)/1000)
if len(sys.argv) > 1:
    pr = cProfile.Profile(); f = cases[sys.argv[1]]
    pr.enable()
    for _ in range(1500): f()
    pr.disable()
    st = pstats.Stats(pr); st.sort_stats(sys.argv[2] if len(sys.argv) > 2 else "tottime").print_stats(45)
