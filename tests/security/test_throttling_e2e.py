"""Throttling held in Redis across two gunicorn instances on different ports.

A burst from one client, spread over both instances, is limited as a whole; failed
authentications from one address add up across instances too. Also: two ``Authorization``
headers sent over the wire are refused. Each test uses a client or a source address of its
own, so that any of them can run alone.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
import requests

from tests.security.servers import Cluster, cluster, session_from

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

CLIENT_LIMIT = 6
FAILED_LIMIT = 4
FAILED_IP_LIMIT = 8
# Day-long windows: a burst of a few seconds never straddles two of them (but at midnight UTC).
RATES = {
    "client": f"{CLIENT_LIMIT}/day",
    "ip": None,
    "failed": f"{FAILED_LIMIT}/day",
    "failed_ip": f"{FAILED_IP_LIMIT}/day",
}


@pytest.fixture(scope="module")
def servers() -> Iterator[Cluster]:
    with cluster(2, throttle_rates=RATES, label="throttle") as running:
        yield running


def _token(
    servers: Cluster,
    index: int,
    secret: str | None = None,
    client_id: str | None = None,
    *,
    session: Any = requests,
    data: dict[str, str] | None = None,
) -> requests.Response:
    return session.post(
        servers.url(index, "/oidc/token"),
        data=data or {"grant_type": "client_credentials", "resource": "https://shopping.api", "scope": "read:products"},
        auth=(client_id or servers.demo["client_id"], secret or servers.demo["client_secret"]),
        timeout=10,
    )


def _assert_throttled(response: requests.Response) -> None:
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"] == "too_many_requests"


def test_two_authorization_headers_over_the_wire_are_refused(servers):
    token = _token(servers, 0).json()["access_token"]
    connection = http.client.HTTPConnection("127.0.0.1", servers.ports[1], timeout=10)
    try:
        connection.putrequest("GET", "/products")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Authorization", f"Bearer {token}")
        connection.endheaders()
        response = connection.getresponse()
        challenge = response.getheader("WWW-Authenticate") or ""
        response.read()
    finally:
        connection.close()
    assert response.status == HTTPStatus.UNAUTHORIZED
    assert 'error="invalid_token"' in challenge
    # One header with the same token is fine: the refusal was about the duplicate.
    single = requests.get(servers.url(1, "/products"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert single.status_code == HTTPStatus.OK


def test_burst_from_one_client_is_limited_across_instances(servers):
    # A client of its own (m2m bootstrap in another process): its budget is whole whatever ran before.
    app = json.loads(servers.manage("m2m", "bootstrap", "--json", "--name", "Burst"))
    data = {"grant_type": "client_credentials", "resource": app["resource"], "scope": "all"}
    answers: list[Any] = [
        _token(servers, i, app["client_secret"], app["client_id"], data=data) for i in range(2 * CLIENT_LIMIT)
    ]
    served = [r for r in answers if r.status_code == HTTPStatus.OK]
    refused = [r for r in answers if r.status_code == HTTPStatus.TOO_MANY_REQUESTS]
    # Per-process counters would have served CLIENT_LIMIT on each instance.
    assert len(served) == CLIENT_LIMIT, [r.status_code for r in answers]
    assert len(refused) == CLIENT_LIMIT
    for response in refused:
        _assert_throttled(response)
    # Both instances refused some of them.
    refused_by = {i % 2 for i, r in enumerate(answers) if r.status_code == HTTPStatus.TOO_MANY_REQUESTS}
    assert refused_by == {0, 1}


def test_failed_authentications_add_up_across_instances(servers):
    guesser = session_from("127.0.0.6")  # an address of its own
    guesses = [_token(servers, i, "wrong", "guessed-app", session=guesser) for i in range(FAILED_LIMIT)]
    assert [r.status_code for r in guesses] == [HTTPStatus.UNAUTHORIZED] * FAILED_LIMIT
    assert all(r.json()["error"] == "invalid_client" for r in guesses)
    # That (address, client ID) pair has used its failures on both instances together ...
    for index in (0, 1):
        _assert_throttled(_token(servers, index, "wrong", "guessed-app", session=guesser))
    # ... and the address's ceiling is shared too: four more under other IDs reach it.
    others = [_token(servers, i, "wrong", f"other-{i}", session=guesser) for i in range(FAILED_IP_LIMIT - FAILED_LIMIT)]
    assert [r.status_code for r in others] == [HTTPStatus.UNAUTHORIZED] * (FAILED_IP_LIMIT - FAILED_LIMIT)
    for index in (0, 1):
        _assert_throttled(_token(servers, index, session=guesser))
    # Nobody else is affected: the demo client from another address is served.
    assert _token(servers, 0, session=session_from("127.0.0.7")).status_code == HTTPStatus.OK
    assert "Traceback" not in servers.log_tail(200)
