"""Pydantic models of a tenant context pack: company profile, service catalog, sales strategies."""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

LanguageCode = Literal["es", "en"]
SUPPORTED_LANGUAGES: tuple[LanguageCode, ...] = ("es", "en")
DEFAULT_LANGUAGE: LanguageCode = "es"

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Billing = Literal["one_time", "monthly", "yearly"]
CtaKind = Literal["consultation", "whatsapp", "quote", "advisor"]

TEMPLATE_FIELDS: frozenset[str] = frozenset(
    {"company", "city", "email", "phone", "whatsapp", "whatsapp_link", "website", "hours"}
)
"""Placeholders allowed in message templates, e.g. ``{whatsapp}``."""

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=SLUG_PATTERN)
]
Text = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=4000)
]
ShortText = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80)
]
KeywordText = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80)
]
Version = Annotated[
    str, StringConstraints(strict=True, max_length=32, pattern=r"^[0-9]+(?:\.[0-9]+){1,2}$")
]
ClockTime = Annotated[
    str, StringConstraints(strict=True, pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
]
E164 = Annotated[str, StringConstraints(strict=True, pattern=r"^\+[1-9][0-9]{7,14}$")]
Email = Annotated[
    str,
    StringConstraints(
        strict=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$",
    ),
]
HttpsUrl = Annotated[
    str, StringConstraints(strict=True, max_length=2000, pattern=r"^https://[^\s/$.?#][^\s]*$")
]
TimeZoneName = Annotated[
    str,
    StringConstraints(strict=True, max_length=64, pattern=r"^[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+$"),
]
CountryCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")]
Amount = Annotated[StrictInt, Field(ge=0, le=10**12)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_unique_ids(items: Iterable[BaseModel], *, kind: str) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = getattr(item, "id", None)
        if not isinstance(item_id, str):
            continue
        if item_id in seen:
            raise PydanticCustomError(
                "duplicate_id",
                "duplicate {kind} id '{id}' (first used at index {first})",
                {"kind": kind, "id": item_id, "first": seen[item_id], "path": (index, "id")},
            )
        seen[item_id] = index


def _check_template(value: str) -> str:
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise PydanticCustomError(
            "template", "malformed template: {error}", {"error": str(exc)}
        ) from exc
    for _, field_name, format_spec, conversion in parsed:
        if field_name is None:
            continue
        if field_name not in TEMPLATE_FIELDS or format_spec or conversion:
            raise PydanticCustomError(
                "template",
                "unknown placeholder {{{name}}}; allowed: {allowed}",
                {"name": field_name, "allowed": ", ".join(sorted(TEMPLATE_FIELDS))},
            )
    return value


class Localized(_Frozen):
    """A human-readable text in every supported language."""

    es: Text
    en: Text

    def get(self, lang: str, default: str = DEFAULT_LANGUAGE) -> str:
        """Return the text in ``lang``, or in ``default`` when ``lang`` is not supported."""
        if lang == "en":
            return self.en
        if lang == "es":
            return self.es
        return self.en if default == "en" else self.es


class Label(Localized):
    """A short localized text: a name, a button title."""

    es: ShortText
    en: ShortText


class Template(Localized):
    """A localized message that may use the placeholders in ``TEMPLATE_FIELDS``."""

    @field_validator("es", "en")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _check_template(value)


class Keywords(_Frozen):
    """Words and phrases visitors type, per language."""

    es: tuple[KeywordText, ...] = Field(min_length=1, max_length=300)
    en: tuple[KeywordText, ...] = Field(min_length=1, max_length=300)

    def all(self) -> tuple[str, ...]:
        """Every keyword of both languages, in order, without duplicates."""
        return tuple(dict.fromkeys((*self.es, *self.en)))


class HoursRule(_Frozen):
    """Opening time of a set of weekdays."""

    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    opens: ClockTime
    closes: ClockTime

    @field_validator("days")
    @classmethod
    def _unique_days(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_day", "a weekday is listed twice")
        return value

    @field_validator("closes")
    @classmethod
    def _closes_after_opening(cls, value: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if isinstance(opens, str) and value <= opens:
            raise PydanticCustomError(
                "hours_range",
                "closes ({closes}) must be later than opens ({opens})",
                {"closes": value, "opens": opens},
            )
        return value


_DAY_NAMES: dict[str, tuple[str, ...]] = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}


def _clock_12h(value: str) -> str:
    hour, minute = (int(part) for part in value.split(":"))
    suffix = "a.m." if hour < 12 else "p.m."
    return f"{(hour % 12) or 12}:{minute:02d} {suffix}"


def _clock_24h(value: str) -> str:
    hour, minute = (int(part) for part in value.split(":"))
    return f"{hour}:{minute:02d}"


def _day_groups(days: tuple[Weekday, ...]) -> list[tuple[int, int]]:
    indexes = sorted(WEEKDAYS.index(day) for day in days)
    groups: list[tuple[int, int]] = []
    for index in indexes:
        if groups and groups[-1][1] == index - 1:
            groups[-1] = (groups[-1][0], index)
        else:
            groups.append((index, index))
    return groups


def _join(parts: list[str], conjunction: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {conjunction} {parts[-1]}"


class BusinessHours(_Frozen):
    """When the company answers, in its own time zone."""

    timezone: TimeZoneName
    timezone_label: Label
    schedule: tuple[HoursRule, ...] = Field(min_length=1, max_length=7)

    @field_validator("schedule")
    @classmethod
    def _no_overlap(cls, value: tuple[HoursRule, ...]) -> tuple[HoursRule, ...]:
        seen: set[str] = set()
        for rule in value:
            overlap = seen.intersection(rule.days)
            if overlap:
                raise PydanticCustomError(
                    "hours_overlap",
                    "weekday {day} appears in more than one rule",
                    {"day": sorted(overlap)[0]},
                )
            seen.update(rule.days)
        return value

    def describe(self, lang: str) -> str:
        """Human-readable schedule, e.g. ``lunes a viernes de 8:00 a 18:00 (hora de Colombia)``."""
        english = lang == "en"
        names = _DAY_NAMES["en" if english else "es"]
        parts: list[str] = []
        for rule in self.schedule:
            ranges: list[str] = []
            for first, last in _day_groups(rule.days):
                if first == last:
                    name = names[first]
                    ranges.append(name + "s" if not name.endswith("s") else name)
                elif english:
                    ranges.append(f"{names[first]} to {names[last]}")
                else:
                    ranges.append(f"{names[first]} a {names[last]}")
            days = _join(ranges, "and" if english else "y")
            if english:
                parts.append(f"{days} {_clock_12h(rule.opens)}–{_clock_12h(rule.closes)}")
            else:
                parts.append(f"{days} de {_clock_24h(rule.opens)} a {_clock_24h(rule.closes)}")
        schedule = _join(parts, "and" if english else "y")
        return f"{schedule} ({self.timezone_label.get(lang)})"


class Contact(_Frozen):
    """Ways to reach the company."""

    email: Email
    phone: E164
    whatsapp: E164
    website: HttpsUrl


class Company(_Frozen):
    """The tenant's public profile."""

    name: ShortText
    description: Localized
    pitch: Localized
    city: ShortText
    country: Label
    country_code: CountryCode
    contact: Contact
    hours: BusinessHours


class Price(_Frozen):
    """A price range in Colombian pesos with its approximate US dollar equivalent."""

    cop_min: Amount
    cop_max: Amount
    usd_min: Amount
    usd_max: Amount
    billing: Billing

    @field_validator("cop_max", "usd_max")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        min_field = "cop_min" if info.field_name == "cop_max" else "usd_min"
        minimum = info.data.get(min_field)
        if isinstance(minimum, int) and value < minimum:
            raise PydanticCustomError(
                "price_range",
                "{field} ({max}) is lower than {min_field} ({min})",
                {"field": info.field_name, "max": value, "min_field": min_field, "min": minimum},
            )
        return value


class Faq(_Frozen):
    """A frequent question about a service and its answer."""

    question: Localized
    answer: Localized


class Service(_Frozen):
    """One sellable service of the catalog."""

    id: Slug
    name: Label
    summary: Localized
    description: Localized
    includes: tuple[Localized, ...] = Field(min_length=1, max_length=30)
    price: Price
    delivery_time: Label
    faqs: tuple[Faq, ...] = Field(min_length=1, max_length=30)
    keywords: Keywords
    featured: StrictBool = False


class QualificationQuestion(_Frozen):
    """A question that helps qualify a lead; ``services`` empty means it applies to all."""

    id: Slug
    question: Localized
    services: tuple[Slug, ...] = Field(default=(), max_length=50)


class Objection(_Frozen):
    """A typical sales objection, recognised by its trigger keywords."""

    id: Slug
    triggers: Keywords
    answer: Localized


class CallToAction(_Frozen):
    """A next step offered to the visitor: ``label`` is the button, ``text`` the message."""

    id: Slug
    kind: CtaKind
    label: Label
    text: Template


class Messages(_Frozen):
    """Fixed conversational messages of the assistant."""

    greeting: Template
    fallback: Template
    closing: Template
    handoff: Template
    contact: Template
    pricing_intro: Template
    pricing_question: Template
    next_step: Template


class Strategies(_Frozen):
    """How the assistant sells: messages, qualification, objections and calls to action."""

    messages: Messages
    qualification: tuple[QualificationQuestion, ...] = Field(min_length=1, max_length=30)
    objections: tuple[Objection, ...] = Field(default=(), max_length=50)
    calls_to_action: tuple[CallToAction, ...] = Field(min_length=1, max_length=10)

    @field_validator("qualification", "objections", "calls_to_action")
    @classmethod
    def _unique(cls, value: tuple[BaseModel, ...], info: ValidationInfo) -> tuple[BaseModel, ...]:
        _check_unique_ids(value, kind=info.field_name or "item")
        return value

    def cta(self, kind: str) -> CallToAction | None:
        """The first call to action of ``kind``, if any."""
        return next((cta for cta in self.calls_to_action if cta.kind == kind), None)


class ContextPack(_Frozen):
    """Everything the assistant knows about one tenant."""

    id: Slug
    version: Version
    languages: tuple[LanguageCode, ...] = Field(min_length=1, max_length=2)
    default_language: LanguageCode
    company: Company
    services: tuple[Service, ...] = Field(min_length=1, max_length=200)
    strategies: Strategies

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, value: tuple[LanguageCode, ...]) -> tuple[LanguageCode, ...]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_language", "a language is listed twice")
        return value

    @field_validator("default_language")
    @classmethod
    def _default_is_supported(cls, value: LanguageCode, info: ValidationInfo) -> LanguageCode:
        languages = info.data.get("languages")
        if languages is not None and value not in languages:
            raise PydanticCustomError(
                "default_language",
                "default language '{value}' is not one of the pack languages {languages}",
                {"value": value, "languages": list(languages)},
            )
        return value

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: tuple[Service, ...]) -> tuple[Service, ...]:
        _check_unique_ids(value, kind="service")
        return value

    @field_validator("strategies")
    @classmethod
    def _known_services(cls, value: Strategies, info: ValidationInfo) -> Strategies:
        services = info.data.get("services")
        if services is None:
            return value
        known = {service.id for service in services}
        for index, question in enumerate(value.qualification):
            for service_id in question.services:
                if service_id not in known:
                    raise PydanticCustomError(
                        "unknown_service",
                        "qualification question '{question}' refers to unknown service '{id}'",
                        {
                            "question": question.id,
                            "id": service_id,
                            "path": ("qualification", index, "services"),
                        },
                    )
        return value

    def service(self, service_id: str) -> Service:
        """The service with id ``service_id``; raises ``KeyError`` when there is none."""
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def resolve_language(self, lang: str | None) -> LanguageCode:
        """``lang`` when the pack supports it, else the pack's default language."""
        for code in self.languages:
            if code == lang:
                return code
        return self.default_language

    def text(self, value: Localized, lang: str | None) -> str:
        """``value`` in ``lang``, falling back to the pack's default language."""
        return value.get(self.resolve_language(lang), self.default_language)
