import os, timeit
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()
from rest_framework.test import APIRequestFactory
from rest_framework.request import Request
from rest_framework import exceptions
from bench.inprocess import MALFORMED
from bench.views import M2MProductsView, _RefuseAtOnce
from logto_m2m_django.drf.authentication import JWTAccessTokenAuthentication
from logto_m2m_django.drf.validation import get_validator
from logto_m2m_django import tokens
rf = APIRequestFactory()
dj = rf.get("/m2m/products", HTTP_AUTHORIZATION="Bearer " + MALFORMED)
view = M2MProductsView()
req = Request(dj, parser_context={"view": view})
ours, bare = JWTAccessTokenAuthentication(), _RefuseAtOnce()
def a():
    try: ours.authenticate(req)
    except exceptions.AuthenticationFailed: pass
    ours.authenticate_header(req)
def b():
    try: bare.authenticate(req)
    except exceptions.AuthenticationFailed: pass
    bare.authenticate_header(req)
v = get_validator()
def c():
    try: v.validate(MALFORMED, "https://shopping.api")
    except tokens.TokenError: pass
for f in (a, b, c):
    print(f.__name__, min(timeit.repeat(f, number=2000, repeat=5)) / 2000 * 1e6, "us")
