"""The JavaScript SDK and widget, served from the built ``sdk/js/dist`` at ``/sdk/v1/…``.

The files are public code: any page may load them (``Access-Control-Allow-Origin: *``,
``Cross-Origin-Resource-Policy: cross-origin``, no credentials), so these routes are outside the
tenants' CORS (which governs ``/web/v1/{tenant}/…`` only). Each file is read once per change on
disk and kept with its strong ``ETag``, its gzipped form and its Subresource Integrity hash
(sha384), which ``/sdk/v1/manifest.json`` lists for the snippet's ``integrity`` attribute.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

import frontdesk
from frontdesk.errors import NotFound
from frontdesk.gateway.deps import RuntimeDep
from frontdesk.settings import Settings

router = APIRouter(prefix="/sdk/v1", tags=["sdk"])

SCRIPTS = ("frontdesk.js", "frontdesk.esm.js", "frontdesk-core.js")
"""The bundles: the IIFE with the widget, the ES module, the IIFE core without the widget."""
MAX_AGE = 300
JAVASCRIPT = "text/javascript; charset=utf-8"
_TYPES = re.compile(r"^[a-z][a-z0-9-]{0,40}(?:\.[a-z0-9-]{1,20}){0,2}\.d\.ts$")
_PUBLIC = {
    "Cache-Control": f"public, max-age={MAX_AGE}",
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Vary": "Accept-Encoding",
}


class SdkNotBuilt(NotFound):
    title = "SDK not built"
    type_slug = "sdk-not-built"


def default_sdk_dir() -> Path:
    """The checkout's ``sdk/js/dist`` (``src/frontdesk`` → the repository root)."""
    return Path(frontdesk.__file__).resolve().parents[2] / "sdk" / "js" / "dist"


def sdk_dir(settings: Settings) -> Path:
    """Where the built SDK is: ``FRONTDESK_SDK_DIR``, else the checkout's ``sdk/js/dist``."""
    return settings.sdk_dir or default_sdk_dir()


@dataclass(frozen=True, slots=True)
class SdkFile:
    """One built file as served: its bytes, gzipped bytes, strong ETag and SRI hash."""

    name: str
    body: bytes
    gzipped: bytes
    etag: str
    integrity: str
    stamp: tuple[int, int]

    @classmethod
    def read(cls, path: Path, stamp: tuple[int, int]) -> SdkFile:
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:32]
        sri = base64.b64encode(hashlib.sha384(body).digest()).decode()
        return cls(
            name=path.name,
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            etag=f'"{digest}"',
            integrity=f"sha384-{sri}",
            stamp=stamp,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "url": f"{router.prefix}/{self.name}",
            "bytes": len(self.body),
            "gzip_bytes": len(self.gzipped),
            "integrity": self.integrity,
            "etag": self.etag,
        }


class SdkFiles:
    """The built files of one directory, re-read when a file changes on disk (a rebuild)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, SdkFile] = {}

    def get(self, name: str) -> SdkFile | None:
        """The file ``name`` (a bundle or a ``.d.ts``), None if absent or not servable."""
        if name not in SCRIPTS and not _TYPES.fullmatch(name):
            return None
        path = self.directory / name
        try:
            status = path.stat()
        except OSError:
            self._files.pop(name, None)
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        known = self._files.get(name)
        if known is None or known.stamp != stamp:
            try:
                known = self._files[name] = SdkFile.read(path, stamp)
            except OSError:
                return None
        return known

    def manifest(self) -> dict[str, Any]:
        """Every bundle present, with its size and SRI hash."""
        files = {name: found.describe() for name in SCRIPTS if (found := self.get(name))}
        if not files:
            raise _not_built()
        return {"version": "v1", "files": files}


_DIRECTORIES: dict[Path, SdkFiles] = {}


def sdk_files(settings: Settings) -> SdkFiles:
    """The (cached) files of the configured SDK directory."""
    directory = sdk_dir(settings)
    files = _DIRECTORIES.get(directory)
    if files is None:
        files = _DIRECTORIES[directory] = SdkFiles(directory)
    return files


def _not_built() -> SdkNotBuilt:
    return SdkNotBuilt(
        "the JavaScript SDK has not been built on this server (make setup builds sdk/js)"
    )


def _none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks here)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or etag.removesuffix('"') + '-gz"' in tags


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in {"gzip", "*"}:
            return params.replace(" ", "").lower() not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


@router.get("/manifest.json")
async def manifest(rt: RuntimeDep) -> Response:
    """The built bundles with their sizes and Subresource Integrity hashes (sha384)."""
    body = orjson.dumps(sdk_files(rt.settings).manifest(), option=orjson.OPT_INDENT_2)
    headers = {**_PUBLIC, "Cache-Control": "no-cache"}
    del headers["Vary"]
    return Response(body, media_type="application/json", headers=headers)


@router.api_route("/{name}", methods=["GET", "HEAD"])
async def script(rt: RuntimeDep, request: Request, name: str) -> Response:
    """A bundle (``frontdesk.js``, ``frontdesk.esm.js``, ``frontdesk-core.js``) or its types."""
    found = sdk_files(rt.settings).get(name)
    if found is None:
        raise _not_built() if name in SCRIPTS else NotFound("no such SDK file")
    headers = {
        **_PUBLIC,
        "Content-Type": JAVASCRIPT if name.endswith(".js") else "text/plain; charset=utf-8",
    }
    packed = _accepts_gzip(request.headers.get("accept-encoding"))
    etag = found.etag.removesuffix('"') + '-gz"' if packed else found.etag
    headers["ETag"] = etag
    if _none_match(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=headers)
    body = found.gzipped if packed else found.body
    if packed:
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers)
    return Response(body, headers=headers)
