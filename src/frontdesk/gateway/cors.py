"""Per-tenant CORS for the browser routes (``/web/v1/{tenant}/…``), decided in the ``Pipeline``.

The tenant comes from the path, so a preflight is answered with that tenant's own allowed
origins. A cross-origin request from an origin the tenant has not allowed is refused outright
(a publishable key is bound to its tenant's origins); same-origin requests (the demo page) pass.

Every decision that does not depend on the request alone is kept: the tenant's policy per set
of origins, and per policy and ``Origin`` header the headers an allowed request is answered
with, so an allowed request costs two dictionary lookups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import Scope

from frontdesk.errors import FrontDeskError
from frontdesk.security.cors import VARY_ORIGIN, CorsPolicy, Headers, normalize_origin
from frontdesk.tenancy.context import TenantContext
from frontdesk.tenancy.store import TenantContextStore

WEB_PREFIX = "/web/v1/"
WEB_PATH = re.compile(r"^/web/v1/([a-z0-9-]{1,63})(?:/|$)")
_CACHE_SIZE = 10_000
_VARY_ONLY: Headers = [VARY_ORIGIN]


@dataclass(frozen=True, slots=True)
class Answer:
    """What the pipeline does with a browser request: answer it at once (``status``, with a
    problem ``title``/``detail``/``slug`` unless it is an accepted preflight) or let it through
    (``status`` 0), either way with ``headers`` on the response."""

    status: int
    headers: Headers
    title: str = ""
    detail: str = ""
    slug: str = ""


AnswerKey = tuple[str, bytes, bytes | None, str | None]
TENANT_SEEN = "frontdesk.cors_tenant"
"""Where the request's state keeps the path's tenant once CORS has read it (the credential
dependencies start from it rather than looking the tenant up again)."""
_PASS = Answer(0, _VARY_ONLY)
_PREFLIGHT_OK = Answer(204, _VARY_ONLY)
_NOT_ALLOWED = Answer(
    403,
    _VARY_ONLY,
    "Origin not allowed",
    "this origin may not call this tenant",
    "origin-not-allowed",
)


class TenantCors:
    """The CORS decision for one request, from the tenant's allowed origins."""

    def __init__(self, *, tenants: TenantContextStore) -> None:
        self.tenants = tenants
        self._policies: dict[tuple[str, ...], CorsPolicy] = {}
        self._actual: dict[tuple[int, str], Headers | None] = {}
        self._own: dict[tuple[str, str], str | None] = {}
        self._answers: dict[AnswerKey, tuple[tuple[str, ...] | None, Answer]] = {}
        """Per tenant, origin, host and scheme: the answer to a request that is no preflight,
        and the allowed origins it was made from (None: a same-origin request, any tenant)."""

    async def answer(self, scope: Scope, headers: dict[bytes, bytes]) -> Answer | None:
        """None outside the browser routes; else the answer for this request."""
        path: str = scope["path"]
        if not path.startswith(WEB_PREFIX):
            return None
        match = WEB_PATH.match(path)
        if match is None:
            return None
        raw_origin = headers.get(b"origin")
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        if not raw_origin:
            return _PREFLIGHT_OK if preflight else _PASS
        slug = match.group(1)
        key = (slug, raw_origin, headers.get(b"host"), scope.get("scheme"))
        known = None if preflight else self._answers.get(key)
        if known is not None:
            # This tenant, origin and host had this answer: it holds while the tenant's
            # allowed origins are the same (same-origin requests pass whatever the tenant).
            if known[0] is None:
                return known[1]
            try:
                tenant = await self.tenants.by_slug(slug)
            except FrontDeskError:
                tenant = None
            if tenant is not None and tenant.settings.allowed_origins is known[0]:
                scope["state"][TENANT_SEEN] = tenant
                return known[1]
        origin = raw_origin.decode("latin-1")
        if self._same_origin(scope, headers, origin):
            answer = _PREFLIGHT_OK if preflight else _PASS
            if not preflight:
                self._keep(key, None, answer)
            return answer
        try:
            tenant = await self.tenants.by_slug(slug)
        except FrontDeskError as exc:
            return Answer(exc.status, _VARY_ONLY, exc.title, exc.detail, exc.type_slug)
        scope["state"][TENANT_SEEN] = tenant
        policy = self._policy(tenant)
        if preflight:
            allowed = policy.preflight(
                origin,
                headers.get(b"access-control-request-method", b"").decode("latin-1"),
                headers.get(b"access-control-request-headers", b"").decode("latin-1"),
            )
            return _NOT_ALLOWED if allowed is None else Answer(204, [*allowed, VARY_ORIGIN])
        actual = self._allowed(policy, origin)
        answer = _NOT_ALLOWED if actual is None else Answer(0, actual)
        self._keep(key, tenant.settings.allowed_origins, answer)
        return answer

    def _keep(self, key: AnswerKey, origins: tuple[str, ...] | None, answer: Answer) -> None:
        if len(self._answers) >= _CACHE_SIZE:
            self._answers.clear()
        self._answers[key] = (origins, answer)

    def _allowed(self, policy: CorsPolicy, origin: str) -> Headers | None:
        """The headers answering ``origin`` under ``policy``; None if it is not allowed."""
        key = (id(policy), origin)
        if key in self._actual:
            return self._actual[key]
        headers = [*policy.actual(origin), VARY_ORIGIN] if policy.allows(origin) else None
        if len(self._actual) >= _CACHE_SIZE:
            self._actual.clear()
        self._actual[key] = headers
        return headers

    def _same_origin(self, scope: Scope, headers: dict[bytes, bytes], origin: str) -> bool:
        host = headers.get(b"host", b"").decode("latin-1")
        if not host:
            return False
        key = (f"{scope.get('scheme', 'http')}://{host}", origin)
        if key not in self._own:
            own = normalize_origin(key[0])
            if len(self._own) >= _CACHE_SIZE:
                self._own.clear()
            self._own[key] = own if own is not None and normalize_origin(origin) == own else None
        return self._own[key] is not None

    def _policy(self, tenant: TenantContext) -> CorsPolicy:
        origins = tenant.settings.allowed_origins
        policy = self._policies.get(origins)
        if policy is None:
            if len(self._policies) >= _CACHE_SIZE:
                self._policies.clear()
                self._actual.clear()
            policy = self._policies[origins] = CorsPolicy(origins)
        return policy
