"""The first responder answering web chat messages from the Colombiatic pack."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest

from frontdesk.engine.packs import ContextPack, Service, load_default_pack
from frontdesk.engine.reply import QuickReply, Reply, ServiceCard
from frontdesk.engine.responder import (
    FirstResponder,
    Responder,
    Turn,
    display_phone,
    format_price,
    normalize,
)

PACK = load_default_pack()


@pytest.fixture(scope="module")
def responder() -> FirstResponder:
    return FirstResponder()


async def ask(
    responder: Responder,
    text: str,
    history: Sequence[Turn] = (),
    language: str | None = None,
) -> Reply:
    return await responder.respond(pack=PACK, text=text, history=history, language=language)


def spanish_range(service: Service) -> str:
    price = service.price
    cop = f"desde ${price.cop_min:,} hasta ${price.cop_max:,} COP".replace(",", ".")
    return f"{cop} (aprox. USD {price.usd_min:,}–{price.usd_max:,})"


def english_range(service: Service) -> str:
    price = service.price
    return (
        f"from COP {price.cop_min:,} to COP {price.cop_max:,} "
        f"(about USD {price.usd_min:,}–{price.usd_max:,})"
    )


def pack_amounts(pack: ContextPack) -> set[int]:
    amounts: set[int] = set()
    for service in pack.services:
        price = service.price
        amounts |= {price.cop_min, price.cop_max, price.usd_min, price.usd_max}
    return amounts


def quoted_amounts(text: str) -> set[int]:
    amounts = {int(m.replace(".", "")) for m in re.findall(r"\$(\d{1,3}(?:\.\d{3})+)", text)}
    amounts |= {int(m.replace(",", "")) for m in re.findall(r"COP (\d{1,3}(?:,\d{3})+)", text)}
    for low, high in re.findall(r"USD ([\d,]+)–([\d,]+)", text):
        amounts |= {int(low.replace(",", "")), int(high.replace(",", ""))}
    return amounts


SERVICE_MESSAGES = [
    ("cuanto vale una pagina web", "corporate-website"),
    ("necesito un sitio web para mi empresa", "corporate-website"),
    ("quiero una pajina web", "corporate-website"),
    ("precio tienda virtual", "online-store"),
    ("quiero vender mis productos por internet", "online-store"),
    ("tienda en linea con wompi y pse", "online-store"),
    ("necesito una tienda virtal", "online-store"),
    ("hacen ecomerce?", "online-store"),
    ("cuanto cuesta una landing", "landing-page"),
    ("necesito una pagina de aterrizaje para una campaña", "landing-page"),
    ("quiero salir en google", "seo"),
    ("posisionamiento web", "seo"),
    ("cuanto cobran por pauta en facebook", "digital-advertising"),
    ("manejan google ads?", "digital-advertising"),
    ("manejo de redes sociales", "social-media"),
    ("necesito alguien que maneje mi instagram", "social-media"),
    ("cuanto vale un dominio .co", "hosting-domains"),
    ("correo corporativo con mi dominio", "hosting-domains"),
    ("necesito un sistema de inventarios", "custom-software"),
    ("aplicacion web para mi empresa", "custom-software"),
    ("kiero una app", "mobile-apps"),
    ("cuanto cuesta una aplicacion para celular", "mobile-apps"),
    ("mantenimiento de mi pagina web", "website-maintenance"),
    ("me hackearon la pagina", "website-maintenance"),
    ("la pagina se me cayo", "website-maintenance"),
    ("necesito un logo", "branding"),
    ("identidad visual para mi marca", "branding"),
    ("chatbot para whatsapp", "chatbot-automation"),
    ("cuanto vale una pagina web con tienda virtual", "online-store"),
    ("I need a new website for my company", "corporate-website"),
    ("need a webiste", "corporate-website"),
    ("online store price", "online-store"),
    ("I want to sell online", "online-store"),
    ("landing page cost", "landing-page"),
    ("how much for SEO", "seo"),
    ("facebook ads", "digital-advertising"),
    ("social media management", "social-media"),
    ("domain and hosting", "hosting-domains"),
    ("custom software development", "custom-software"),
    ("mobile app for ios", "mobile-apps"),
    ("my website is down", "website-maintenance"),
    ("logo design", "branding"),
    ("ai assistant for my business", "chatbot-automation"),
]


async def test_spanish_online_store_price(responder: FirstResponder) -> None:
    reply = await ask(responder, "Hola, ¿cuánto cuesta una tienda en línea?")
    store = PACK.service("online-store")
    assert reply.language == "es"
    assert reply.intent == "pricing"
    assert store.name.es in reply.text
    assert spanish_range(store) in reply.text
    assert store.delivery_time.es in reply.text
    assert reply.cards[0] == ServiceCard(
        service_id="online-store",
        title=store.name.es,
        summary=store.summary.es,
        price_text=spanish_range(store),
    )
    assert not reply.handoff


async def test_english_website_price(responder: FirstResponder) -> None:
    reply = await ask(responder, "How much does a website cost?")
    website = PACK.service("corporate-website")
    assert reply.language == "en"
    assert reply.intent == "pricing"
    assert website.name.en in reply.text
    assert english_range(website) in reply.text
    assert [card.service_id for card in reply.cards] == ["corporate-website"]
    titles = {reply.title for reply in reply.quick_replies}
    assert {"Book a consultation", "Continue on WhatsApp"} <= titles


@pytest.mark.parametrize(("text", "service_id"), SERVICE_MESSAGES)
async def test_message_finds_service(responder: FirstResponder, text: str, service_id: str) -> None:
    reply = await ask(responder, text)
    assert reply.cards, text
    assert reply.cards[0].service_id == service_id
    assert PACK.text(PACK.service(service_id).name, reply.language) in reply.text


def test_table_is_big_and_bilingual() -> None:
    assert len(SERVICE_MESSAGES) >= 20
    services = {service_id for _, service_id in SERVICE_MESSAGES}
    assert services == {service.id for service in PACK.services}


async def test_monthly_price_is_marked(responder: FirstResponder) -> None:
    seo = PACK.service("seo")
    spanish = await ask(responder, "cuanto cuesta el seo")
    assert "COP/mes" in spanish.text
    assert format_price(seo.price, "es") in spanish.text
    english = await ask(responder, "how much is seo")
    assert "COP 1,200,000 to COP 4,000,000 per month" in english.text


async def test_several_services_at_once(responder: FirstResponder) -> None:
    reply = await ask(responder, "necesito una tienda virtual y un logo")
    ids = [card.service_id for card in reply.cards]
    assert set(ids) == {"online-store", "branding"}
    for service_id in ids:
        assert spanish_range(PACK.service(service_id)) in reply.text


async def test_answer_ends_with_a_qualification_question(responder: FirstResponder) -> None:
    reply = await ask(responder, "tienda virtual")
    first = PACK.strategies.qualification[0]
    assert reply.text.endswith(first.question.es)
    history = [Turn("visitor", "tienda virtual"), Turn("assistant", reply.text)]
    again = await ask(responder, "tienda online", history)
    assert not again.text.endswith(first.question.es)
    questions = [question.question.es for question in PACK.strategies.qualification]
    assert again.text.endswith(tuple(questions))


async def test_engaged_buyer_is_offered_the_consultation(responder: FirstResponder) -> None:
    consultation = PACK.strategies.cta("consultation")
    assert consultation is not None
    first = await ask(responder, "quiero contratar una landing page")
    assert first.intent == "purchase"
    assert "asesoría gratuita de 30 minutos" not in first.text
    history = [Turn("visitor", "quiero contratar una landing page"), Turn("assistant", first.text)]
    second = await ask(responder, "si, la quiero para mi restaurante", history)
    assert "asesoría gratuita de 30 minutos" in second.text
    booked = await ask(responder, "quiero agendar una asesoria para una landing page")
    assert booked.cards[0].service_id == "landing-page"
    assert "asesoría gratuita de 30 minutos" in booked.text


async def test_pricing_without_service_lists_main_services(responder: FirstResponder) -> None:
    reply = await ask(responder, "precios?")
    assert reply.intent == "pricing"
    assert reply.language == "es"
    featured = [service for service in PACK.services if service.featured]
    for service in featured:
        amount = f"${service.price.cop_min:,}".replace(",", ".")
        assert f"{service.name.es}: desde {amount} COP" in reply.text
    assert reply.text.endswith(PACK.strategies.messages.pricing_question.es)
    assert all(item.payload.startswith("service:") for item in reply.quick_replies)


async def test_pricing_uses_the_service_from_history(responder: FirstResponder) -> None:
    history = [Turn("visitor", "me interesa una tienda virtual"), Turn("assistant", "¡Genial!")]
    reply = await ask(responder, "y el precio?", history)
    assert [card.service_id for card in reply.cards] == ["online-store"]


@pytest.mark.parametrize(("text", "language"), [("hola", "es"), ("hi", "en"), ("Buenas", "es")])
async def test_greeting(responder: FirstResponder, text: str, language: str) -> None:
    reply = await ask(responder, text)
    assert reply.intent == "greeting"
    assert reply.language == language
    assert "Colombiatic" in reply.text
    assert reply.text.startswith((language == "es" and "¡Hola!") or "Hi!")
    payloads = [item.payload for item in reply.quick_replies]
    assert any(payload.startswith("service:") for payload in payloads)


@pytest.mark.parametrize(
    "text",
    [
        "quiero hablar con un asesor",
        "me pueden llamar?",
        "can I talk to a human?",
        "agent please",
        "prefiero hablar con una persona real",
    ],
)
async def test_human_request_hands_off(responder: FirstResponder, text: str) -> None:
    reply = await ask(responder, text)
    assert reply.handoff
    assert reply.intent == "human"
    assert display_phone(PACK.company.contact.whatsapp) in reply.text
    assert PACK.company.hours.describe(reply.language) in reply.text


@pytest.mark.parametrize(
    ("text", "objection_id"),
    [
        ("uy no, eso es muy caro", "too-expensive"),
        ("lo voy a pensar", "think-about-it"),
        ("yo la hago en wix", "do-it-myself"),
        ("I can do it myself with Wix", "do-it-myself"),
        ("tuve una mala experiencia con otra agencia", "bad-experience"),
        ("no tengo tiempo para eso", "no-time"),
        ("mi sobrino me la hace mas barato", "cheaper-freelancer"),
        ("too expensive for me", "too-expensive"),
    ],
)
async def test_objections(responder: FirstResponder, text: str, objection_id: str) -> None:
    reply = await ask(responder, text)
    objection = next(o for o in PACK.strategies.objections if o.id == objection_id)
    assert reply.intent == "objection"
    assert reply.text == objection.answer.get(reply.language)


@pytest.mark.parametrize("text", ["muchas gracias!", "chao", "thanks, bye"])
async def test_thanks(responder: FirstResponder, text: str) -> None:
    reply = await ask(responder, text)
    assert reply.intent == "thanks"
    assert reply.text.startswith(("¡Gracias", "Thank you"))


async def test_contact_details(responder: FirstResponder) -> None:
    reply = await ask(responder, "donde estan ubicados y cual es el horario?")
    contact = PACK.company.contact
    assert reply.intent == "contact"
    for value in (contact.email, display_phone(contact.phone), display_phone(contact.whatsapp)):
        assert value in reply.text


async def test_ai_agent_is_a_service_not_a_handoff(responder: FirstResponder) -> None:
    reply = await ask(responder, "quiero un agente de IA para mi negocio")
    assert not reply.handoff
    assert reply.cards[0].service_id == "chatbot-automation"


async def test_schedule(responder: FirstResponder) -> None:
    reply = await ask(responder, "quiero agendar una reunion")
    assert reply.intent == "schedule"
    assert "https://wa.me/573" in reply.text


@pytest.mark.parametrize("text", ["el clima esta rico hoy", "asdfgh", "jajaja", "🙂"])
async def test_unknown_chatter_falls_back(responder: FirstResponder, text: str) -> None:
    reply = await ask(responder, text)
    assert reply.intent == "fallback"
    assert reply.text == PACK.strategies.messages.fallback.es
    assert reply.quick_replies
    assert not reply.cards


async def test_fallback_in_english(responder: FirstResponder) -> None:
    reply = await ask(responder, "the weather is nice today")
    assert reply.intent == "fallback"
    assert reply.language == "en"
    assert reply.text == PACK.strategies.messages.fallback.en


async def test_short_message_keeps_the_language_of_history(responder: FirstResponder) -> None:
    english = [Turn("visitor", "Hi, how much is an online store?"), Turn("assistant", "...")]
    spanish = [Turn("visitor", "hola, cuanto vale una tienda?"), Turn("assistant", "...")]
    assert (await ask(responder, "ok", english)).language == "en"
    assert (await ask(responder, "ok", spanish)).language == "es"
    assert (await ask(responder, "ok")).language == PACK.default_language
    assert (await ask(responder, "precio?", spanish)).language == "es"
    assert (await ask(responder, "seo?", english)).language == "en"
    assert (await ask(responder, "precio?")).language == "es"


async def test_assistant_turns_count_when_visitor_turns_are_unclear(
    responder: FirstResponder,
) -> None:
    history = [Turn("visitor", "ok"), Turn("assistant", "Which one are you interested in?")]
    assert (await ask(responder, "seo", history)).language == "en"


async def test_explicit_language_wins(responder: FirstResponder) -> None:
    reply = await ask(responder, "cuanto vale una pagina web", language="en")
    assert reply.language == "en"
    assert PACK.service("corporate-website").name.en in reply.text
    assert (await ask(responder, "hola", language="fr")).language == PACK.default_language


async def test_keywords_of_either_language_answer_in_the_detected_one(
    responder: FirstResponder,
) -> None:
    reply = await ask(responder, "hola, cuanto vale el ecommerce con shopify?")
    assert reply.language == "es"
    assert PACK.service("online-store").name.es in reply.text
    reply = await ask(responder, "how much for a tienda virtual?")
    assert reply.language == "en"
    assert PACK.service("online-store").name.en in reply.text


async def test_quick_reply_payloads(responder: FirstResponder) -> None:
    greeting = await ask(responder, "hola")
    for quick_reply in greeting.quick_replies:
        follow = await ask(responder, quick_reply.payload, [Turn("visitor", "hola")])
        assert follow.language == "es"
        if quick_reply.payload.startswith("service:"):
            assert follow.cards[0].service_id == quick_reply.payload.removeprefix("service:")
        else:
            assert follow.handoff
    whatsapp = await ask(responder, "cta:whatsapp", [Turn("visitor", "hello there")])
    assert whatsapp.language == "en"
    assert "https://wa.me/" in whatsapp.text


async def test_never_invents_prices(responder: FirstResponder) -> None:
    known = pack_amounts(PACK)
    messages = [text for text, _ in SERVICE_MESSAGES] + ["precios", "how much?", "hola", "ok"]
    for text in messages:
        reply = await ask(responder, text)
        everything = " ".join(
            [reply.text, *(card.price_text for card in reply.cards)],
        )
        assert quoted_amounts(everything) <= known, text


async def test_deterministic(responder: FirstResponder) -> None:
    first = await ask(responder, "Hola, ¿cuánto cuesta una tienda en línea?")
    for _ in range(3):
        assert await ask(FirstResponder(), "Hola, ¿cuánto cuesta una tienda en línea?") == first


async def test_reply_round_trips_through_json(responder: FirstResponder) -> None:
    reply = await ask(responder, "necesito una tienda virtual y un logo")
    data = json.loads(json.dumps(reply.to_dict()))
    assert Reply.from_dict(data) == reply
    assert data["cards"][0]["service_id"] == "online-store"


def test_reply_from_dict_rejects_bad_data() -> None:
    with pytest.raises(ValueError, match="text"):
        Reply.from_dict({"language": "es"})
    with pytest.raises(ValueError, match="quick_replies"):
        Reply.from_dict({"text": "x", "language": "es", "quick_replies": "nope"})
    with pytest.raises(ValueError, match="handoff"):
        Reply.from_dict({"text": "x", "language": "es", "handoff": "yes"})
    minimal = Reply.from_dict({"text": "x", "language": "es"})
    assert minimal == Reply(text="x", language="es")
    assert QuickReply.from_dict({"title": "a", "payload": "b"}) == QuickReply("a", "b")


def test_first_responder_is_a_responder() -> None:
    assert isinstance(FirstResponder(), Responder)


def test_turn_roles_are_checked() -> None:
    assert Turn("visitor", "hola").role == "visitor"
    with pytest.raises(ValueError, match="role"):
        Turn("bot", "hola")


def test_formatting_helpers() -> None:
    store = PACK.service("online-store")
    assert format_price(store.price, "es") == spanish_range(store)
    assert format_price(store.price, "en") == english_range(store)
    hosting = PACK.service("hosting-domains").price
    assert format_price(hosting, "es").endswith("/año)")
    assert display_phone("+573001234567") == "+57 300 123 4567"
    assert display_phone("+14155550100") == "+14155550100"
    assert normalize("¿Cuánto   VALE una Página?!") == "cuanto vale una pagina"
