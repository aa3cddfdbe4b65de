"""Whatever a client sends, every route answers 2xx/4xx, and every 4xx is problem+json."""

from __future__ import annotations

import uuid

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LiveServer

SEGMENTS = st.one_of(
    st.just("colombiatic"),
    st.uuids().map(str),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_%.~", min_size=1, max_size=80),
)
PATHS = st.one_of(
    st.builds(lambda t: f"/web/v1/{t}/conversations", SEGMENTS),
    st.builds(lambda t, c: f"/web/v1/{t}/conversations/{c}/messages", SEGMENTS, SEGMENTS),
    st.builds(lambda t, c: f"/web/v1/{t}/conversations/{c}/events", SEGMENTS, SEGMENTS),
    st.sampled_from(["/", "/healthz", "/readyz", "/metrics", "/openapi.json"]),
)
BODIES = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=512).map(str.encode),
    st.sampled_from(
        [
            b"{}",
            b"[]",
            b"null",
            b'{"text": null}',
            b'{"text": 5}',
            b'{"locale": "x"}',
            b'{"text": "hola", "client_id": "../../etc"}',
            b'{"text":"' + b"a" * 5000 + b'"}',
        ]
    ),
)
# Header values a valid HTTP message can carry (the server refuses others before the app runs).
VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.sampled_from(
            ["application/json", "text/plain", "multipart/form-data", "x"]
        ),
        "authorization": st.one_of(st.just("Bearer x"), VALUES.map(lambda t: f"Bearer {t}")),
        "x-frontdesk-key": st.one_of(st.just("pk_"), VALUES),
        "last-event-id": VALUES,
    },
)


def test_random_requests_never_get_a_500(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
            path=PATHS,
            body=BODIES,
            headers=HEADERS,
        )
        def check(method: str, path: str, body: bytes, headers: dict[str, str]) -> None:
            try:
                if path.endswith("/events") and method == "GET":
                    # A stream that opens stays open: only its status and type matter here.
                    with http.stream(method, path, headers=headers, timeout=5) as response:
                        status, kind = (
                            response.status_code,
                            response.headers.get("content-type", ""),
                        )
                        if status < 400:
                            return
                        response.read()
                else:
                    response = http.request(method, path, content=body, headers=headers)
                    status, kind = response.status_code, response.headers.get("content-type", "")
            except httpx.InvalidURL:
                return
            assert status < 500, (method, path, body[:80], headers, response.text[:300])
            if status >= 400:
                assert kind == "application/problem+json", (method, path, status, kind)

        check()


def test_unknown_conversation_id_is_404_not_500(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        response = http.get(f"/web/v1/colombiatic/conversations/{uuid.uuid4()}/messages")
        assert response.status_code == 401
