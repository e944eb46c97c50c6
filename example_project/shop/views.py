"""The shopping API of Logto's M2M quick start: https://shopping.api."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from logto_m2m_django.drf import JWTAccessTokenAuthentication, RequiredScopes

_PRODUCTS: list[dict[str, Any]] = [
    {"id": 1, "name": "Mechanical keyboard", "price": "89.00"},
    {"id": 2, "name": "USB-C cable", "price": "9.50"},
]
_ids = itertools.count(3)
_lock = threading.Lock()


class ProductSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    price = serializers.DecimalField(max_digits=10, decimal_places=2)


class ProductsView(APIView):
    authentication_classes = [JWTAccessTokenAuthentication]
    permission_classes = [RequiredScopes]
    audience = "https://shopping.api"
    required_scopes_by_method = {"GET": ["read:products"], "POST": ["write:products"]}

    def get(self, request: Request) -> Response:
        return Response(_PRODUCTS)

    def post(self, request: Request) -> Response:
        serializer = ProductSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _lock:
            product = {"id": next(_ids), **serializer.data}
            _PRODUCTS.append(product)
        return Response(product, status=status.HTTP_201_CREATED)
