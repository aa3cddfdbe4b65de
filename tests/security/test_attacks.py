import hashlib
import hmac
import json

import httpx
import pytest

from frontdesk.runtime import Runtime
from frontdesk.security.secrets import create_secret
from frontdesk.security.signatures import sign_request
from tests.factories import make_tenant


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    ) as c:
        yield c


async def test_probe(http: httpx.AsyncClient, runtime: Runtime, backend: str) -> None:
    a = await make_tenant(runtime)
    async with runtime.db.session() as session:
        api = (
            await create_secret(session, runtime.box, a.context.id, purpose="api", actor="t")
        ).value
        ident = (
            await create_secret(session, runtime.box, a.context.id, purpose="identity", actor="t")
        ).value
    for body in [
        {"contact": {"id": "c\u0000"}, "text": "hi"},
        {"contact": {"id": "c1", "name": "n\u0000"}, "text": "hi"},
        {"contact": {"id": "c2"}, "text": "h\u0000i"},
        {"contact": {"id": "c3"}, "text": "hi", "message_id": "m\u0000"},
        {"contact": {"id": "c4", "email": "e\u0000", "phone": "p\u0000"}, "text": "hi"},
    ]:
        raw = json.dumps(body).encode()
        r = await http.post(
            f"/v1/channels/api/{a.slug}/messages",
            content=raw,
            headers={**sign_request(api, raw), "content-type": "application/json"},
        )
        print(backend, "api", body, r.status_code, r.text[:150])
    raw = b'{"contact": {"id": "c\\ud800"}, "text": "hi"}'
    r = await http.post(
        f"/v1/channels/api/{a.slug}/messages",
        content=raw,
        headers={**sign_request(api, raw), "content-type": "application/json"},
    )
    print(backend, "api surrogate", r.status_code, r.text[:150])
    raw = b"[" * 10000 + b"]" * 10000
    r = await http.post(
        f"/v1/channels/api/{a.slug}/messages",
        content=raw,
        headers={**sign_request(api, raw), "content-type": "application/json"},
    )
    print(backend, "api nested", r.status_code, r.text[:150])
    raw = b'{"contact": ' + b"[" * 10000 + b"]" * 10000 + b', "text": "hi"}'
    r = await http.post(
        f"/v1/channels/api/{a.slug}/messages",
        content=raw,
        headers={**sign_request(api, raw), "content-type": "application/json"},
    )
    print(backend, "api nested2", r.status_code, r.text[:150])
    for uid, extra in [("u\u0000", {}), ("u1", {"name": "n\u0000"}), ("u2", {"email": "e\u0000"})]:
        proof = hmac.new(ident.encode(), uid.encode(), hashlib.sha256).hexdigest()
        r = await http.post(
            f"/web/v1/{a.slug}/conversations",
            json={"user": {"id": uid, "proof": proof, **extra}},
            headers={"X-FrontDesk-Key": a.publishable_key},
        )
        print(backend, "ident", repr(uid), extra, r.status_code, r.text[:150])
    r = await http.post(
        f"/web/v1/{a.slug}/conversations",
        content=b'{"user": {"id": "u\\ud800", "proof": "' + b"0" * 64 + b'"}}',
        headers={"X-FrontDesk-Key": a.publishable_key, "content-type": "application/json"},
    )
    print(backend, "ident surrogate", r.status_code, r.text[:150])
    r = await http.post(
        f"/web/v1/{a.slug}/conversations",
        content=b'{"locale": "es", "user": {"id": "u", "proof": "'
        + b"0" * 64
        + b'", "name": "\\ud800"}}',
        headers={"X-FrontDesk-Key": a.publishable_key, "content-type": "application/json"},
    )
    print(backend, "name surrogate", r.status_code, r.text[:150])
    proof = hmac.new(ident.encode(), b"u9", hashlib.sha256).hexdigest()
    r = await http.post(
        f"/web/v1/{a.slug}/conversations",
        content=b'{"user": {"id": "u9", "proof": "' + proof.encode() + b'", "name": "a\\ud800"}}',
        headers={"X-FrontDesk-Key": a.publishable_key, "content-type": "application/json"},
    )
    print(backend, "name surrogate valid proof", r.status_code, r.text[:150])
