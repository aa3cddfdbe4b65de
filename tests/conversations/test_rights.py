"""Data rights over one contact: find them, export everything held, erase it all, and never
anything of another contact or another tenant."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import func, select

from frontdesk.conversations.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    Lead,
    Message,
)
from frontdesk.conversations.repository import (
    ContactRepository,
    ConversationRepository,
    IdentityRepository,
    LeadRepository,
    MessageRepository,
)
from frontdesk.conversations.rights import (
    ContactNotFound,
    NoCriteria,
    erase_contact,
    export_contact,
    find_contacts,
)
from frontdesk.delivery.service import OutboxRepository, enqueue
from frontdesk.runtime import Runtime
from frontdesk.security.models import AuditEvent
from frontdesk.store.repository import TenantRepository
from frontdesk.tenancy.context import TenantContext
from tests.factories import make_tenant


@dataclass(frozen=True)
class Person:
    contact: uuid.UUID
    conversations: list[uuid.UUID]
    messages: list[uuid.UUID]
    lead: uuid.UUID


async def seed_person(
    runtime: Runtime,
    tenant: TenantContext,
    *,
    email: str = "Maria.Perez@Example.co",
    phone: str = "+57 300 111 2233",
    handle: str = "573001112233",
) -> Person:
    """A contact known on web chat and WhatsApp, two conversations of messages, a lead and a
    pending job about one of its messages."""
    async with runtime.db.session() as session:
        contact = ContactRepository(session, tenant.id).add(
            Contact(display_name="María Pérez", email=email, phone=phone, locale="es-CO")
        )
        await session.flush()
        identities = IdentityRepository(session, tenant.id)
        identities.add(
            ChannelIdentity(contact_id=contact.id, channel="webchat", external_id=str(contact.id))
        )
        identities.add(
            ChannelIdentity(
                contact_id=contact.id, channel="whatsapp", external_id=handle, verified=True
            )
        )
        conversations, messages = [], []
        for channel in ("webchat", "whatsapp"):
            conversation = ConversationRepository(session, tenant.id).add(
                Conversation(contact_id=contact.id, channel=channel, language="es", last_seq=2)
            )
            await session.flush()
            conversations.append(conversation.id)
            for seq, (direction, text) in enumerate(
                [("in", f"Hola por {channel}, soy María"), ("out", "¡Hola María! ¿En qué ayudo?")],
                start=1,
            ):
                message = MessageRepository(session, tenant.id).add(
                    Message(
                        conversation_id=conversation.id,
                        seq=seq,
                        direction=direction,
                        channel=channel,
                        sender="visitor" if direction == "in" else "assistant",
                        text=text,
                        payload={"n": seq},
                        status="received" if direction == "in" else "sent",
                        external_id=f"{channel}:{uuid.uuid4()}",
                    )
                )
                await session.flush()
                messages.append(message.id)
        lead = LeadRepository(session, tenant.id).add(
            Lead(
                contact_id=contact.id,
                conversation_id=conversations[0],
                score=0.8,
                stage="qualified",
                service_ids=["tienda-online"],
                data={"budget": "medio"},
            )
        )
        await enqueue(
            session,
            tenant.id,
            kind="engine.decide",
            payload={"conversation_id": str(conversations[1]), "message_id": str(messages[2])},
            key=f"test-decide:{messages[2]}",
            run_at=datetime(2999, 1, 1).astimezone(),
        )
        await session.flush()
        return Person(contact.id, conversations, messages, lead.id)


async def count(
    runtime: Runtime, tenant: TenantContext, repo: type[TenantRepository], **where: object
) -> int:
    async with runtime.db.session() as session:
        bound = repo(session, tenant.id)
        query = bound.select()
        for name, value in where.items():
            column = getattr(bound.model, name)
            query = query.where(column.in_(value) if isinstance(value, list) else column == value)
        return int(
            (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        )


async def held(runtime: Runtime, tenant: TenantContext, person: Person) -> dict[str, int]:
    return {
        "contacts": await count(runtime, tenant, ContactRepository, id=person.contact),
        "identities": await count(runtime, tenant, IdentityRepository, contact_id=person.contact),
        "conversations": await count(
            runtime, tenant, ConversationRepository, contact_id=person.contact
        ),
        "messages": await count(
            runtime, tenant, MessageRepository, conversation_id=person.conversations
        ),
        "leads": await count(runtime, tenant, LeadRepository, contact_id=person.contact),
    }


class AuditRepository(TenantRepository[AuditEvent]):
    model = AuditEvent


async def audit(runtime: Runtime, tenant: TenantContext, action: str) -> list[AuditEvent]:
    async with runtime.db.session() as session:
        repo = AuditRepository(session, tenant.id)
        rows = await session.execute(repo.select().where(AuditEvent.action == action))
        return list(rows.scalars())


EVERYTHING = {"contacts": 1, "identities": 2, "conversations": 2, "messages": 4, "leads": 1}
NOTHING = dict.fromkeys(EVERYTHING, 0)


async def test_export_holds_everything_about_the_contact_and_only_it(runtime: Runtime) -> None:
    tenant = (await make_tenant(runtime)).context
    person = await seed_person(runtime, tenant)
    await seed_person(runtime, tenant, email="otro@example.co", phone="3109998877", handle="x")
    async with runtime.db.session() as session:
        data = await export_contact(session, tenant, person.contact, actor="agent:7")

    again = json.loads(json.dumps(data, allow_nan=False))
    assert again == data
    assert data["format"] == "frontdesk.contact-export"
    assert data["tenant"]["slug"] == tenant.slug
    contact = data["contact"]
    assert contact["id"] == str(person.contact)
    assert contact["display_name"] == "María Pérez"
    assert contact["email"] == "Maria.Perez@Example.co"
    assert contact["phone"] == "+57 300 111 2233"
    assert contact["locale"] == "es-CO"
    assert datetime.fromisoformat(contact["created_at"]).tzinfo is not None
    assert {(i["channel"], i["external_id"]) for i in data["identities"]} == {
        ("webchat", str(person.contact)),
        ("whatsapp", "573001112233"),
    }
    assert [c["id"] for c in data["conversations"]] == [str(c) for c in person.conversations]
    for thread in data["conversations"]:
        assert [m["seq"] for m in thread["messages"]] == [1, 2]
        first, second = thread["messages"]
        assert first["direction"] == "in"
        assert first["text"] == f"Hola por {thread['channel']}, soy María"
        assert first["channel"] == thread["channel"]
        assert first["status"] == "received"
        assert second["direction"] == "out"
        assert second["status"] == "sent"
        assert {"id", "sender", "payload", "created_at", "external_id"} <= set(first)
    exported = [m["id"] for thread in data["conversations"] for m in thread["messages"]]
    assert exported == [str(m) for m in person.messages]
    (lead,) = data["leads"]
    assert lead["id"] == str(person.lead)
    assert lead["stage"] == "qualified"
    assert lead["service_ids"] == ["tienda-online"]
    assert lead["data"] == {"budget": "medio"}
    assert "otro@example.co" not in json.dumps(data)

    (event,) = await audit(runtime, tenant, "contact.exported")
    assert event.actor == "agent:7"
    assert event.target == str(person.contact)
    assert event.data == {"conversations": 2, "messages": 4}


async def test_erase_removes_everything_of_the_contact_and_nothing_else(runtime: Runtime) -> None:
    tenant = (await make_tenant(runtime)).context
    other_tenant = (await make_tenant(runtime)).context
    person = await seed_person(runtime, tenant)
    neighbour = await seed_person(runtime, tenant, email="vecino@example.co", handle="57310")
    twin = await seed_person(runtime, other_tenant)
    assert await held(runtime, tenant, person) == EVERYTHING

    async with runtime.db.session() as session:
        report = await erase_contact(session, tenant, person.contact, actor="agent:7")

    assert report.contact_id == person.contact
    assert (report.contacts, report.identities, report.conversations) == (1, 2, 2)
    assert (report.messages, report.leads, report.jobs) == (4, 1, 1)
    assert await held(runtime, tenant, person) == NOTHING
    assert await held(runtime, tenant, neighbour) == EVERYTHING
    assert await held(runtime, other_tenant, twin) == EVERYTHING
    assert await count(runtime, tenant, OutboxRepository, kind="engine.decide") == 1
    assert await count(runtime, other_tenant, OutboxRepository, kind="engine.decide") == 1

    (event,) = await audit(runtime, tenant, "contact.erased")
    assert event.actor == "agent:7"
    assert event.target == str(person.contact)
    assert event.data == {
        "messages": 4,
        "identities": 2,
        "conversations": 2,
        "leads": 1,
        "contacts": 1,
        "jobs": 1,
    }
    written = json.dumps(event.data) + (event.target or "")
    for personal in ("María", "maria", "Example.co", "300", "Hola"):
        assert personal not in written

    async with runtime.db.session() as session:
        with pytest.raises(ContactNotFound):
            await export_contact(session, tenant, person.contact)
        with pytest.raises(ContactNotFound):
            await erase_contact(session, tenant, person.contact, actor="agent:7")


async def test_another_tenant_cannot_export_or_erase_a_contact(runtime: Runtime) -> None:
    owner = (await make_tenant(runtime)).context
    intruder = (await make_tenant(runtime)).context
    person = await seed_person(runtime, owner)
    async with runtime.db.session() as session:
        with pytest.raises(ContactNotFound) as refused:
            await export_contact(session, intruder, person.contact, actor="intruder")
        assert refused.value.status == 404
        with pytest.raises(ContactNotFound):
            await erase_contact(session, intruder, person.contact, actor="intruder")
        assert (
            await find_contacts(
                session, intruder, email="maria.perez@example.co", phone="3001112233"
            )
        ) == []
    assert await held(runtime, owner, person) == EVERYTHING


@pytest.mark.parametrize(
    ("criteria", "found"),
    [
        ({"email": "maria.perez@example.co"}, True),
        ({"email": "  MARIA.PEREZ@EXAMPLE.CO "}, True),
        ({"phone": "+57 300 111 2233"}, True),
        ({"phone": "(300) 111-2233"}, True),
        ({"phone": "573001112233"}, True),
        ({"channel_id": "573001112233"}, True),
        ({"email": "maria@example.co"}, False),
        ({"phone": "111 2233"}, True),
        ({"phone": "2233"}, False),
        ({"channel_id": "nobody"}, False),
    ],
)
async def test_find_contacts_by_what_a_person_would_say(
    runtime: Runtime, criteria: dict[str, str], found: bool
) -> None:
    tenant = (await make_tenant(runtime)).context
    person = await seed_person(runtime, tenant)
    await seed_person(runtime, tenant, email="otro@example.co", phone="3109998877", handle="x")
    async with runtime.db.session() as session:
        rows = await find_contacts(session, tenant, **criteria)
    assert [row.id for row in rows] == ([person.contact] if found else [])


async def test_find_matches_any_criterion_and_needs_one(runtime: Runtime) -> None:
    tenant = (await make_tenant(runtime)).context
    web = await seed_person(runtime, tenant, phone="", handle="w1")
    whatsapp = await seed_person(runtime, tenant, email="", phone="+57 311 222 3344", handle="w2")
    async with runtime.db.session() as session:
        rows = await find_contacts(
            session, tenant, email="maria.perez@example.co", phone="3112223344"
        )
        assert [row.id for row in rows] == [web.contact, whatsapp.contact]
        with pytest.raises(NoCriteria):
            await find_contacts(session, tenant)
        with pytest.raises(NoCriteria):
            await find_contacts(session, tenant, email=" ", phone="")
