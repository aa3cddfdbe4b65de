"""A local server that speaks the Graph API for the tests — the WhatsApp Cloud API's side and
the Messenger Platform's Send API (Messenger pages and Instagram accounts): it checks the bearer
token, records every request, and answers as Meta does — or fails as Meta does when told to."""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import ThreadedServer

TOKEN = "EAAG-test-access-token"


@dataclass
class Recorded:
    phone_number_id: str
    body: dict[str, Any]
    authorization: str | None
    refused: bool = False
    wamid: str | None = None
    """The message id answered for an accepted send."""


@dataclass
class SendApiRequest:
    sender: str
    """The path's page or account id (or ``me``)."""
    body: dict[str, Any]
    refused: bool = False
    mid: str | None = None


@dataclass
class FakeSendApi:
    """The Messenger Platform's Send API: messages and sender actions, recorded per recipient
    (a page- or Instagram-scoped id). ``failures[recipient]`` are answered, in order, to that
    recipient's next messages; a recipient in ``down`` gets 503s (an outage) until removed."""

    requests: list[SendApiRequest] = field(default_factory=list)
    failures: defaultdict[str, deque[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    down: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def _to(self, recipient: str) -> list[SendApiRequest]:
        return [r for r in self.requests if r.body.get("recipient", {}).get("id") == recipient]

    def sent(self, recipient: str) -> list[dict[str, Any]]:
        """The whole bodies of the messages accepted for one recipient, in order."""
        return [r.body for r in self._to(recipient) if r.mid]

    def messages(self, recipient: str) -> list[dict[str, Any]]:
        """Only the ``message`` objects accepted for one recipient."""
        return [body["message"] for body in self.sent(recipient)]

    def mids(self, recipient: str) -> list[str]:
        return [r.mid for r in self._to(recipient) if r.mid]

    def senders(self, recipient: str) -> list[str]:
        return [r.sender for r in self._to(recipient) if r.mid]

    def actions(self, recipient: str) -> list[str]:
        return [r.body["sender_action"] for r in self._to(recipient) if "sender_action" in r.body]

    def refused(self, recipient: str) -> list[dict[str, Any]]:
        return [r.body for r in self._to(recipient) if r.refused]

    def fail(
        self,
        recipient: str,
        status: int,
        code: int | None = None,
        *,
        subcode: int | None = None,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        error: dict[str, Any] = {"message": "failure", "type": "OAuthException", "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        body = {"error": error} if code else {}
        headers = {"Retry-After": retry_after} if retry_after else {}
        for _ in range(times):
            self.failures[recipient].append((status, body, headers))

    def answer(self, sender: str, body: dict[str, Any], auth: str | None) -> Response:
        recipient = str(body.get("recipient", {}).get("id", ""))
        if auth != f"Bearer {TOKEN}":
            self.requests.append(SendApiRequest(sender, body, refused=True))
            error = {"message": "Invalid OAuth access token.", "type": "OAuthException"}
            return JSONResponse({"error": error | {"code": 190}}, status_code=401)
        if "sender_action" in body:
            self.requests.append(SendApiRequest(sender, body))
            return JSONResponse({"recipient_id": recipient})
        if recipient in self.down:
            self.requests.append(SendApiRequest(sender, body, refused=True))
            return JSONResponse({}, status_code=503)
        if self.failures[recipient]:
            status, error, headers = self.failures[recipient].popleft()
            self.requests.append(SendApiRequest(sender, body, refused=True))
            return JSONResponse(error, status_code=status, headers=headers)
        mid = f"m_out{next(self._ids)}"
        self.requests.append(SendApiRequest(sender, body, mid=mid))
        return JSONResponse({"recipient_id": recipient, "message_id": mid})


@dataclass
class FakeGraph:
    """``failures[number]`` are answered, in order, to that number's next message sends instead
    of success (per number: the runtime is shared, and other tests' late jobs may call too)."""

    requests: list[Recorded] = field(default_factory=list)
    failures: defaultdict[str, deque[tuple[int, dict[str, Any], dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    send_api: FakeSendApi = field(default_factory=lambda: FakeSendApi())
    """Messenger and Instagram: the Send API on the same paths (``/{page or account}/messages``)."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def sent(self, phone_number_id: str) -> list[dict[str, Any]]:
        """Messages accepted from one number (not read receipts, not refused attempts): the
        runtime is shared, so other tests' late jobs may reach this server from other numbers."""
        return [r.body for r in self._of(phone_number_id) if r.body.get("type") and not r.refused]

    def wamids(self, phone_number_id: str) -> list[str]:
        """The ids given to the messages accepted from one number, in order."""
        return [r.wamid for r in self._of(phone_number_id) if r.wamid]

    def refused(self, phone_number_id: str) -> list[dict[str, Any]]:
        return [r.body for r in self._of(phone_number_id) if r.refused]

    def read_receipts(self, phone_number_id: str) -> list[str]:
        return [
            r.body["message_id"]
            for r in self._of(phone_number_id)
            if r.body.get("status") == "read"
        ]

    def _of(self, phone_number_id: str) -> list[Recorded]:
        return [r for r in self.requests if r.phone_number_id == phone_number_id]

    def fail(
        self,
        phone_number_id: str,
        status: int,
        code: int | None = None,
        *,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        body = (
            {"error": {"message": "failure", "type": "OAuthException", "code": code}}
            if code
            else {}
        )
        headers = {"Retry-After": retry_after} if retry_after else {}
        for _ in range(times):
            self.failures[phone_number_id].append((status, body, headers))

    async def _messages(self, request: Request) -> Response:
        body = await request.json()
        phone = request.path_params["phone"]
        auth = request.headers.get("authorization")
        if "recipient" in body:
            return self.send_api.answer(phone, body, auth)
        if auth != f"Bearer {TOKEN}":
            self.requests.append(Recorded(phone, body, auth, refused=True))
            return JSONResponse(
                {
                    "error": {
                        "message": "Invalid OAuth access token.",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
                status_code=401,
            )
        if body.get("status") == "read":
            self.requests.append(Recorded(phone, body, auth))
            return JSONResponse({"success": True})
        if self.failures[phone]:
            status, error, headers = self.failures[phone].popleft()
            self.requests.append(Recorded(phone, body, auth, refused=True))
            return JSONResponse(error, status_code=status, headers=headers)
        wamid = f"wamid.out{next(self._ids)}"
        self.requests.append(Recorded(phone, body, auth, wamid=wamid))
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": wamid}],
            }
        )

    async def _media(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        if media_id not in self.media:
            return JSONResponse({"error": {"message": "unknown", "code": 100}}, status_code=400)
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {"url": f"{base}/files/{media_id}", "mime_type": self.media[media_id][1]}
        )

    async def _file(self, request: Request) -> Response:
        content, mime = self.media[request.path_params["media_id"]]
        return Response(content, media_type=mime)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v21.0/{phone:str}/messages", self._messages, methods=["POST"]),
                Route("/v21.0/{media_id:str}", self._media, methods=["GET"]),
                Route("/files/{media_id:str}", self._file, methods=["GET"]),
            ]
        )


class GraphServer(ThreadedServer):
    name = "the fake Graph API"

    def __init__(self) -> None:
        self.graph = FakeGraph()
        super().__init__(self.graph.app())

    @property
    def url(self) -> str:
        return f"{self.origin}/v21.0"
