import os, sys, cProfile, pstats
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()
from bench.inprocess import Bench
bench = Bench()
f = bench.post("/oidc/token", bench.token_body, bench.basic)
for _ in range(50): f()
pr = cProfile.Profile(); pr.enable()
for _ in range(500): f()
pr.disable()
st = pstats.Stats(pr); st.print_callers(sys.argv[1])
