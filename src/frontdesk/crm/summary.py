"""A short, deterministic summary of a lead's conversation, for a sales person in a CRM.

Extractive, no language model: the services of interest, budget, timeline, contact details,
the customer's last messages, the stage and score, and the ids that find the conversation. The
same summary goes to HubSpot (the deal's note) and to the tenant's webhooks (``lead.created``
and ``lead.updated``), so every CRM reads the same thing.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Contact, Lead, Message
from frontdesk.conversations.repository import MessageRepository
from frontdesk.tenancy.context import TenantContext

LAST_MESSAGES: Final = 3
MESSAGE_CHARS: Final = 280
_LABELS: Final[dict[str, dict[str, str]]] = {
    "es": {
        "title": "Lead de Front Desk",
        "services": "Servicios de interés",
        "budget": "Presupuesto",
        "timeline": "Plazo",
        "contact": "Contacto",
        "stage": "Etapa",
        "score": "Puntaje de intención",
        "last": "Últimos mensajes del cliente",
        "channel": "Canal",
        "ids": "Conversación",
    },
    "en": {
        "title": "Front Desk lead",
        "services": "Services of interest",
        "budget": "Budget",
        "timeline": "Timeline",
        "contact": "Contact",
        "stage": "Stage",
        "score": "Intent score",
        "last": "The customer's last messages",
        "channel": "Channel",
        "ids": "Conversation",
    },
}


def service_names(tenant: TenantContext, service_ids: list[Any], language: str) -> list[str]:
    """The names of the services in ``language`` (ids the pack lacks are shown as ids)."""
    names: list[str] = []
    for service_id in service_ids:
        name = str(service_id)
        if tenant.pack is not None:
            with contextlib.suppress(KeyError):
                name = tenant.pack.text(tenant.pack.service(name).name, language)
        names.append(name)
    return names


def _clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def summarize(
    session: AsyncSession,
    tenant: TenantContext,
    lead: Lead,
    contact: Contact | None,
    *,
    language: str | None = None,
) -> dict[str, Any]:
    """The lead's summary: its facts as fields, and ``text``, the same in a few lines."""
    last: list[Message] = []
    channel = None
    if lead.conversation_id is not None:
        recent = await MessageRepository(session, tenant.id).last(lead.conversation_id, 30)
        last = [m for m in recent if m.direction == "in"][-LAST_MESSAGES:]
        channel = recent[-1].channel if recent else None
    lang = language if language in _LABELS else None
    if lang is None:
        lang = tenant.pack.default_language if tenant.pack is not None else "es"
    data = dict(lead.data)
    budget = data.get("budget") if isinstance(data.get("budget"), dict) else None
    summary: dict[str, Any] = {
        "lead_id": str(lead.id),
        "conversation_id": str(lead.conversation_id) if lead.conversation_id else None,
        "channel": channel,
        "stage": lead.stage,
        "score": round(lead.score, 2),
        "services": service_names(tenant, list(lead.service_ids), lang),
        "budget": budget,
        "timeline": data.get("timeline"),
        "contact": {
            "name": (contact.display_name if contact else None) or data.get("name"),
            "email": (contact.email if contact else None) or data.get("email"),
            "phone": (contact.phone if contact else None) or data.get("phone"),
        },
        "last_messages": [_clip(m.text) for m in last],
    }
    summary["text"] = summary_text(summary, lang)
    return summary


def summary_text(summary: dict[str, Any], language: str) -> str:
    """``summary`` as a few plain-text lines in ``language`` (es or en)."""
    labels = _LABELS.get(language, _LABELS["es"])
    lines = [labels["title"]]
    if summary["services"]:
        lines.append(f"{labels['services']}: {', '.join(summary['services'])}")
    budget = summary.get("budget")
    if budget:
        amount = budget.get("text") or f"{budget.get('value')} {budget.get('currency') or ''}"
        lines.append(f"{labels['budget']}: {amount.strip()}")
    if summary.get("timeline"):
        lines.append(f"{labels['timeline']}: {summary['timeline']}")
    contact = [v for v in summary["contact"].values() if v]
    if contact:
        lines.append(f"{labels['contact']}: {' · '.join(contact)}")
    lines.append(f"{labels['stage']}: {summary['stage']} · {labels['score']}: {summary['score']}")
    if summary["last_messages"]:
        lines.append(f"{labels['last']}:")
        lines.extend(f"» {text}" for text in summary["last_messages"])
    if summary.get("channel"):
        lines.append(f"{labels['channel']}: {summary['channel']}")
    lines.append(f"{labels['ids']}: {summary['conversation_id']} · lead {summary['lead_id']}")
    return "\n".join(lines)
