import os, sys, cProfile, pstats, io
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()
from bench.inprocess import Bench, MALFORMED
bench = Bench()
stats = {}
for name, f in (("refusal", bench.get("/bare/refuse", MALFORMED)), ("malformed", bench.get("/m2m/products", MALFORMED)), ("bare", bench.get("/bare")), ("seen", bench.get("/m2m/products", bench.seen))):
    for _ in range(20): f()
    pr = cProfile.Profile(); pr.enable()
    for _ in range(100): f()
    pr.disable()
    st = pstats.Stats(pr)
    stats[name] = {k: v[1] for k, v in st.stats.items()}
    print(name, "calls/request", st.total_calls / 100)
def diff(a, b):
    out = []
    for k in set(stats[a]) | set(stats[b]):
        d = stats[a].get(k, 0) - stats[b].get(k, 0)
        if d: out.append((d / 100, k))
    for d, k in sorted(out, reverse=True)[:30]: print(f"{d:+.1f}", k[0].split("site-packages/")[-1], k[1], k[2])
print("--- malformed - refusal"); diff("malformed", "refusal")
print("--- seen - bare"); diff("seen", "bare")
