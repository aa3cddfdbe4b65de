"""The SDK's files at /sdk/v1: headers, caching, compression, SRI, and refusals."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import re
from pathlib import Path

import httpx
import pytest

from frontdesk.gateway.routers.sdk import SCRIPTS, default_sdk_dir
from frontdesk.runtime import Runtime
from tests.factories import make_tenant

PROBLEM = "application/problem+json"
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def dist(tmp_path: Path, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A built SDK of our own, where ``FRONTDESK_SDK_DIR`` points."""
    directory = tmp_path / "dist"
    directory.mkdir()
    for name in SCRIPTS:
        (directory / name).write_text(f"/* {name} */ window.x = {'1' * 300};\n")
    (directory / "frontdesk.d.ts").write_text("export declare const x: number;\n")
    monkeypatch.setattr(runtime.settings, "sdk_dir", directory)
    return directory


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


@pytest.mark.parametrize("name", SCRIPTS)
async def test_a_bundle_is_served_as_public_cacheable_javascript(
    client: httpx.AsyncClient, dist: Path, name: str
) -> None:
    response = await client.get(f"/sdk/v1/{name}", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == (dist / name).read_bytes()
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')


async def test_the_etag_answers_a_revalidation_with_304(
    client: httpx.AsyncClient, dist: Path
) -> None:
    first = await client.get("/sdk/v1/frontdesk.js", headers=IDENTITY)
    etag = first.headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await client.get(
            "/sdk/v1/frontdesk.js", headers={**IDENTITY, "If-None-Match": header}
        )
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
    other = await client.get("/sdk/v1/frontdesk.js", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


async def test_gzip_is_sent_to_clients_that_accept_it(
    client: httpx.AsyncClient, dist: Path
) -> None:
    plain = await client.get("/sdk/v1/frontdesk.js", headers=IDENTITY)
    async with client.stream(
        "GET", "/sdk/v1/frontdesk.js", headers={"Accept-Encoding": "gzip"}
    ) as packed:
        raw = b"".join([chunk async for chunk in packed.aiter_raw()])
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == (dist / "frontdesk.js").read_bytes()
    assert len(raw) < len(plain.content)
    # Each representation has its own strong tag; either revalidates.
    assert packed.headers["etag"] != plain.headers["etag"]
    again = await client.get(
        "/sdk/v1/frontdesk.js",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["etag"]},
    )
    assert again.status_code == 304
    refused = await client.get("/sdk/v1/frontdesk.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_the_manifest_gives_each_bundle_its_sri_hash(
    client: httpx.AsyncClient, dist: Path
) -> None:
    response = await client.get("/sdk/v1/manifest.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    files = response.json()["files"]
    assert set(files) == set(SCRIPTS)
    for name, entry in files.items():
        body = (dist / name).read_bytes()
        assert entry["integrity"] == sri(body)
        assert entry["bytes"] == len(body)
        assert entry["gzip_bytes"] == len(gzip.compress(body, mtime=0, compresslevel=9))
        assert entry["url"] == f"/sdk/v1/{name}"
        served = await client.get(entry["url"], headers=IDENTITY)
        assert served.headers["etag"] == entry["etag"]


async def test_a_rebuilt_bundle_is_served_at_once(client: httpx.AsyncClient, dist: Path) -> None:
    path = dist / "frontdesk.js"
    before = await client.get("/sdk/v1/frontdesk.js", headers=IDENTITY)
    path.write_text("window.rebuilt = true;\n")
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 1_000_000))
    after = await client.get("/sdk/v1/frontdesk.js", headers=IDENTITY)
    assert after.content == b"window.rebuilt = true;\n"
    assert after.headers["etag"] != before.headers["etag"]
    stale = await client.get(
        "/sdk/v1/frontdesk.js", headers={"If-None-Match": before.headers["etag"]}
    )
    assert stale.status_code == 200


async def test_types_are_served_as_text(client: httpx.AsyncClient, dist: Path) -> None:
    response = await client.get("/sdk/v1/frontdesk.d.ts")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == (dist / "frontdesk.d.ts").read_text()


async def test_head_answers_the_headers_only(client: httpx.AsyncClient, dist: Path) -> None:
    response = await client.head("/sdk/v1/frontdesk.js", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == (dist / "frontdesk.js").stat().st_size


@pytest.mark.parametrize(
    "path",
    [
        "/sdk/v1/other.js",
        "/sdk/v1/..%2F..%2Fpyproject.toml",
        "/sdk/v1/%2e%2e",
        "/sdk/v1/frontdesk.js.map",
        "/sdk/v1/.frontdesk.js",
        "/sdk/v1/manifest.json/x",
        "/sdk/v1/" + "a" * 300 + ".d.ts",
    ],
)
async def test_anything_else_is_not_found(client: httpx.AsyncClient, dist: Path, path: str) -> None:
    (dist.parent / "pyproject.toml").write_text("secret")
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "secret" not in response.text


async def test_an_unbuilt_sdk_is_a_clear_404(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "sdk_dir", tmp_path / "missing")
    for path in ("/sdk/v1/frontdesk.js", "/sdk/v1/manifest.json"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["type"] == "/problems/sdk-not-built"
        assert str(tmp_path) not in response.text


async def test_any_origin_may_load_the_sdk_unlike_the_tenant_routes(
    client: httpx.AsyncClient, runtime: Runtime, dist: Path
) -> None:
    tenant = await make_tenant(runtime)
    foreign = {"Origin": "https://not-allowed.example"}
    script = await client.get("/sdk/v1/frontdesk.js", headers=foreign)
    assert script.status_code == 200
    assert script.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in script.headers
    chat = await client.post(
        f"/web/v1/{tenant.slug}/conversations",
        headers={**foreign, "X-FrontDesk-Key": tenant.publishable_key},
        json={},
    )
    assert chat.status_code == 403


def test_the_default_directory_is_the_checkouts_build() -> None:
    assert default_sdk_dir() == Path(__file__).resolve().parents[2] / "sdk" / "js" / "dist"


@pytest.mark.parametrize(
    ("path", "script"), [("/", "frontdesk.js"), ("/examples/sdk", "frontdesk-core.js")]
)
async def test_the_pages_load_the_sdk_with_its_sri_hash_under_a_strict_csp(
    client: httpx.AsyncClient, dist: Path, path: str, script: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    integrity = sri((dist / script).read_bytes())
    assert re.search(
        rf'<script (async )?src="/sdk/v1/{re.escape(script)}" '
        rf'integrity="{re.escape(integrity)}" crossorigin="anonymous">',
        response.text,
    )
    csp = response.headers["content-security-policy"]
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    assert "script-src 'self' 'nonce-" in csp
    assert "connect-src 'self'" in csp
    # Every inline script carries the nonce (or is data, which never runs).
    for tag in response.text.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert f'nonce="{nonce}"' in opening or "src=" in opening or "application/json" in opening
    assert '"tenant":"colombiatic"' in response.text
    assert response.headers["cache-control"] == "no-store"


async def test_the_demo_shows_the_snippet_with_the_hash(
    client: httpx.AsyncClient, dist: Path
) -> None:
    response = await client.get("/")
    integrity = sri((dist / "frontdesk.js").read_bytes())
    assert f"integrity=&quot;{integrity}&quot;" in response.text
    assert "FrontDesk.init({ tenant: &quot;colombiatic&quot;" in response.text
    assert "FrontDesk.mount();" in response.text


async def test_the_pages_say_when_the_sdk_is_not_built(
    client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "sdk_dir", tmp_path / "missing")
    for path in ("/", "/examples/sdk"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "is not built" in response.text
        assert "/sdk/v1/" not in response.text
