"""A local server that speaks the part of HubSpot's CRM v3 API that Front Desk uses, for the
tests: contacts, deals and notes (create, update, search), checked bearer tokens, a portal's
records kept apart per token, every request recorded, and HubSpot's failures when told.

Each access token is its own portal (the runtime is shared, so other tests' late jobs may
call too): ``portal(token)`` holds its records, requests and scripted failures.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import ThreadedServer

SINGULAR = {"contacts": "contact", "deals": "deal", "notes": "note"}
UNIQUE = {"contacts": ("email", "frontdesk_contact_id"), "deals": ("frontdesk_lead_id",)}


@dataclass
class Record:
    id: str
    type: str
    properties: dict[str, str]
    associations: list[tuple[str, str, int]] = field(default_factory=list)
    """(to type, to id, association type id)"""


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any]
    status: int


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    after: float = 0.0
    """Seconds to wait before answering; with ``commit`` the request takes effect first (a
    timeout on our side after HubSpot did the work)."""
    commit: bool = False
    match: str | None = None
    """Only for this request (``"POST /crm/v3/objects/deals"``); None: the next one."""


@dataclass
class Portal:
    records: dict[str, Record] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)

    def of(self, object_type: str) -> list[Record]:
        return [r for r in self.records.values() if r.type == object_type]

    def writes(self, method: str, object_type: str) -> list[Call]:
        """Accepted writes (``POST`` creates, ``PATCH`` updates) of one object type."""
        return [
            c
            for c in self.calls
            if c.method == method
            and c.path.split("/")[4] == object_type
            and not c.path.endswith("/search")
            and c.status < 300
        ]


class FakeHubSpot:
    def __init__(self) -> None:
        self.portals: dict[str, Portal] = {}
        self._ids = itertools.count(5001)

    def portal(self, token: str) -> Portal:
        """The portal a token opens (made on first use)."""
        return self.portals.setdefault(token, Portal())

    def fail(
        self,
        token: str,
        status: int,
        *,
        retry_after: str | None = None,
        times: int = 1,
        message: str = "failure",
        after: float = 0.0,
        commit: bool = False,
        match: str | None = None,
    ) -> None:
        """Answer the portal's next ``times`` requests with ``status`` instead."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        body = {"status": "error", "message": message, "category": "ERROR"}
        for _ in range(times):
            self.portal(token).failures.append(Failure(status, body, headers, after, commit, match))

    def _portal(self, request: Request) -> tuple[str, Portal] | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or token not in self.portals:
            return None
        return token, self.portals[token]

    async def _handle(self, request: Request) -> Response:
        found = self._portal(request)
        if found is None:
            return JSONResponse(
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                },
                status_code=401,
            )
        _token, portal = found
        body = await request.json()
        path = request.url.path
        failure = self._failure(portal, f"{request.method} {path}")
        if failure is not None and not failure.commit:
            await asyncio.sleep(failure.after)
            portal.calls.append(Call(request.method, path, body, failure.status))
            return JSONResponse(failure.body, failure.status, headers=failure.headers)
        status, answer = self._answer(portal, request, body)
        portal.calls.append(Call(request.method, path, body, status))
        if failure is not None:
            await asyncio.sleep(failure.after)
            return JSONResponse(failure.body, failure.status, headers=failure.headers)
        return JSONResponse(answer, status)

    @staticmethod
    def _failure(portal: Portal, request: str) -> Failure | None:
        for failure in portal.failures:
            if failure.match is None or failure.match == request:
                portal.failures.remove(failure)
                return failure
        return None

    def _answer(
        self, portal: Portal, request: Request, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        object_type = request.path_params["object_type"]
        record_id = request.path_params.get("record_id")
        if object_type not in SINGULAR:
            return 404, {"status": "error", "message": "Unknown object type"}
        if record_id == "search":
            return 200, self._search(portal, object_type, body)
        if record_id is not None:
            record = portal.records.get(record_id)
            if record is None or record.type != object_type:
                return 404, {"status": "error", "message": "resource not found"}
            record.properties.update(body.get("properties", {}))
            return 200, self._out(record)
        properties = dict(body.get("properties", {}))
        for name in UNIQUE.get(object_type, ()):
            value = properties.get(name)
            twin = next(
                (r for r in portal.of(object_type) if value and r.properties.get(name) == value),
                None,
            )
            if twin is not None:
                if object_type == "contacts":
                    message = f"Contact already exists. Existing ID: {twin.id}"
                else:
                    message = f"A record with {name}={value} already exists"
                return 409, {"status": "error", "message": message, "category": "CONFLICT"}
        record = Record(str(next(self._ids)), object_type, properties)
        for item in body.get("associations", []):
            to_id = str(item["to"]["id"])
            target = portal.records.get(to_id)
            for kind in item["types"]:
                record.associations.append(
                    (target.type if target else "?", to_id, kind["associationTypeId"])
                )
        portal.records[record.id] = record
        return 201, self._out(record)

    def _search(self, portal: Portal, object_type: str, body: dict[str, Any]) -> dict[str, Any]:
        def matches(record: Record, flt: dict[str, Any]) -> bool:
            name, value = flt["propertyName"], str(flt["value"])
            assert flt["operator"] == "EQ"
            if name.startswith("associations."):
                wanted = name.removeprefix("associations.") + "s"
                return any(t == wanted and i == value for t, i, _ in record.associations)
            return record.properties.get(name) == value

        groups = body.get("filterGroups", [])
        results = [
            r
            for r in portal.of(object_type)
            if any(all(matches(r, f) for f in g["filters"]) for g in groups)
        ]
        return {"total": len(results), "results": [self._out(r) for r in results]}

    @staticmethod
    def _out(record: Record) -> dict[str, Any]:
        return {"id": record.id, "properties": dict(record.properties), "archived": False}

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/crm/v3/objects/{object_type}", self._handle, methods=["POST"]),
                Route(
                    "/crm/v3/objects/{object_type}/{record_id}",
                    self._handle,
                    methods=["POST", "PATCH"],
                ),
            ]
        )


class HubSpotServer(ThreadedServer):
    name = "the fake HubSpot"

    def __init__(self) -> None:
        self.hubspot = FakeHubSpot()
        super().__init__(self.hubspot.app())

    @property
    def url(self) -> str:
        return self.origin
