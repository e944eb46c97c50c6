import os, time, statistics
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()
import jwt
from bench.inprocess import Bench
from logto_m2m_django.keys import key_store
from logto_m2m_django import tokens
bench = Bench()
mat = key_store.signing_material()
k1 = mat.private_key.public_key()
k2 = key_store.find(mat.kid).key
toks = bench.mint(2000, bench.fixture["audience"], ["read:products"])
def run(key, distinct):
    ts=[]
    for i in range(1000):
        t = toks[i] if distinct else toks[0]
        s=time.thread_time_ns(); jwt.decode(t, key, algorithms=["ES384"], audience="https://shopping.api", issuer="http://127.0.0.1/oidc", leeway=30); ts.append(time.thread_time_ns()-s)
    return statistics.median(ts)/1000
for r in range(3):
    print("derived same", run(k1, False), "derived distinct", run(k1, True), "jwk same", run(k2, False), "jwk distinct", run(k2, True))
