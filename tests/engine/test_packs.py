"""The Colombiatic context pack, the pack schema and the YAML loader."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from frontdesk.engine.packs import (
    PACK_FILE,
    ContextPack,
    Localized,
    PackError,
    PackInvalid,
    Price,
    default_pack_dir,
    load_default_pack,
    load_pack,
    validate_pack,
)
from frontdesk.engine.responder import normalize

PACK_DIR = default_pack_dir()
USD_RATE = 4000
TEXT_ALPHABET = st.characters(categories=("L", "N", "P"), include_characters=" \n")


@pytest.fixture(scope="module")
def pack() -> ContextPack:
    return load_default_pack()


@pytest.fixture
def pack_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pack"
    shutil.copytree(PACK_DIR, target)
    return target


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def localized_texts(value: Any) -> list[Localized]:
    found: list[Localized] = []
    if isinstance(value, Localized):
        found.append(value)
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found.extend(localized_texts(getattr(value, name)))
    elif isinstance(value, tuple):
        for item in value:
            found.extend(localized_texts(item))
    return found


def refusal(path: Path) -> PackError:
    with pytest.raises(PackError) as caught:
        load_pack(path)
    error = caught.value
    assert str(error) == f"{error.file}: {error.field}: {error.reason}"
    assert "\n" not in str(error)
    return error


class TestColombiaticPack:
    def test_default_dir_is_the_repository_pack(self) -> None:
        assert PACK_DIR.name == "colombiatic"
        assert PACK_DIR.parent.name == "packs"
        assert (PACK_DIR / PACK_FILE).is_file()

    def test_identity(self, pack: ContextPack) -> None:
        assert pack.id == "colombiatic"
        assert set(pack.languages) == {"es", "en"}
        assert pack.default_language == "es"
        assert pack.company.name == "Colombiatic"
        assert pack.company.city == "Bogotá"
        assert pack.company.country_code == "CO"
        assert pack.company.contact.whatsapp.startswith("+573")
        assert pack.company.hours.timezone == "America/Bogota"

    def test_business_hours(self, pack: ContextPack) -> None:
        rules = {rule.days: (rule.opens, rule.closes) for rule in pack.company.hours.schedule}
        assert rules[("mon", "tue", "wed", "thu", "fri")] == ("08:00", "18:00")
        assert rules[("sat",)] == ("09:00", "13:00")
        assert pack.company.hours.describe("es") == (
            "lunes a viernes de 8:00 a 18:00 y sábados de 9:00 a 13:00 (hora de Colombia)"
        )
        assert pack.company.hours.describe("en") == (
            "Monday to Friday 8:00 a.m.–6:00 p.m. and Saturdays 9:00 a.m.–1:00 p.m. (Colombia time)"
        )

    def test_catalog_size_and_expected_services(self, pack: ContextPack) -> None:
        ids = {service.id for service in pack.services}
        assert len(pack.services) >= 12
        assert {
            "corporate-website",
            "online-store",
            "landing-page",
            "seo",
            "digital-advertising",
            "social-media",
            "hosting-domains",
            "custom-software",
            "mobile-apps",
            "website-maintenance",
            "branding",
            "chatbot-automation",
        } <= ids

    def test_every_service_is_complete_in_both_languages(self, pack: ContextPack) -> None:
        for service in pack.services:
            for text in (service.name, service.summary, service.description, service.delivery_time):
                assert text.es.strip()
                assert text.en.strip()
            assert service.summary.es[0].isupper(), service.id
            assert service.summary.en[0].isupper(), service.id
            assert len(service.includes) >= 3, service.id
            assert len(service.faqs) >= 2, service.id
            assert len(service.keywords.es) >= 5, service.id
            assert len(service.keywords.en) >= 5, service.id

    def test_prices_are_ranges_in_cop_with_consistent_usd(self, pack: ContextPack) -> None:
        for service in pack.services:
            price = service.price
            assert 0 < price.cop_min <= price.cop_max, service.id
            assert 0 < price.usd_min <= price.usd_max, service.id
            assert price.cop_min % 10_000 == 0, service.id
            for cop, usd in ((price.cop_min, price.usd_min), (price.cop_max, price.usd_max)):
                assert abs(cop / USD_RATE - usd) <= 0.02 * usd + 1, service.id

    def test_reference_prices(self, pack: ContextPack) -> None:
        assert pack.service("landing-page").price.cop_min == 1_200_000
        assert pack.service("corporate-website").price.cop_max == 8_000_000
        assert pack.service("online-store").price.cop_max == 18_000_000
        assert pack.service("seo").price.billing == "monthly"
        assert pack.service("hosting-domains").price.billing == "yearly"
        assert pack.service("custom-software").price.cop_max == 150_000_000

    def test_online_store_mentions_colombian_payments_and_dian(self, pack: ContextPack) -> None:
        description = pack.service("online-store").description.es
        for name in ("Wompi", "PayU", "Mercado Pago", "Bold", "DIAN"):
            assert name in description

    def test_keywords_cover_how_people_type(self, pack: ContextPack) -> None:
        every = {
            normalize(keyword) for service in pack.services for keyword in service.keywords.all()
        }
        assert {
            "pagina web",
            "tienda virtual",
            "tienda en linea",
            "ecommerce",
            "vender por internet",
            "app",
            "aplicacion",
            "posicionamiento",
            "google",
            "pauta",
            "redes",
            "instagram",
            "logo",
            "marca",
            "dominio",
            "hosting",
            "bot",
        } <= every

    def test_strategies(self, pack: ContextPack) -> None:
        strategies = pack.strategies
        objections = {objection.id for objection in strategies.objections}
        assert {"too-expensive", "think-about-it", "do-it-myself", "bad-experience", "no-time"} <= (
            objections
        )
        kinds = {cta.kind for cta in strategies.calls_to_action}
        assert {"consultation", "whatsapp", "quote"} <= kinds
        question_ids = {question.id for question in strategies.qualification}
        assert {"budget", "timeline", "business-type", "current-site", "decision-maker"} <= (
            question_ids
        )

    def test_every_text_is_bilingual(self, pack: ContextPack) -> None:
        texts = localized_texts(pack)
        assert len(texts) > 200
        for text in texts:
            assert text.es
            assert text.en
            assert text.get("es") == text.es
            assert text.get("en") == text.en

    def test_service_lookup(self, pack: ContextPack) -> None:
        assert pack.service("seo").id == "seo"
        with pytest.raises(KeyError):
            pack.service("does-not-exist")

    def test_json_round_trip(self, pack: ContextPack) -> None:
        stored = json.loads(json.dumps(pack.model_dump(mode="json")))
        restored = ContextPack.model_validate(stored)
        assert restored == pack
        assert restored.model_dump(mode="json") == stored
        assert ContextPack.model_validate_json(pack.model_dump_json()) == pack

    def test_pack_is_frozen(self, pack: ContextPack) -> None:
        with pytest.raises(ValidationError):
            pack.id = "other"  # type: ignore[misc]

    def test_single_file_pack(self, pack: ContextPack, tmp_path: Path) -> None:
        merged: dict[str, Any] = {}
        for name in ("pack.yaml", "services.yaml", "strategies.yaml"):
            merged.update(read(PACK_DIR / name))
        single = tmp_path / "colombiatic.yaml"
        write(single, merged)
        assert load_pack(single) == pack
        assert load_pack(str(single)) == pack


class TestLocalized:
    def test_get_falls_back_to_default(self) -> None:
        text = Localized(es="hola", en="hello")
        assert text.get("es") == "hola"
        assert text.get("en") == "hello"
        assert text.get("fr") == "hola"
        assert text.get("fr", "en") == "hello"

    def test_pack_text_uses_pack_default(self, pack: ContextPack) -> None:
        text = Localized(es="hola", en="hello")
        assert pack.text(text, "pt") == "hola"
        assert pack.text(text, None) == "hola"
        assert pack.resolve_language("en") == "en"
        assert pack.resolve_language("de") == "es"

    @given(es=st.text(TEXT_ALPHABET, max_size=50), en=st.text(TEXT_ALPHABET, max_size=50))
    def test_valid_texts_round_trip(self, es: str, en: str) -> None:
        if not es.strip() or not en.strip():
            with pytest.raises(ValidationError):
                Localized(es=es, en=en)
            return
        text = Localized(es=es, en=en)
        assert text.es == es.strip()
        assert Localized.model_validate(text.model_dump(mode="json")) == text

    @pytest.mark.parametrize(
        "data",
        [
            {"es": "hola"},
            {"en": "hello"},
            {"es": "", "en": "hello"},
            {"es": "hola", "en": "x" * 4001},
            {"es": "hola", "en": "hello", "fr": "salut"},
            {"es": 3, "en": "hello"},
        ],
    )
    def test_invalid_texts_are_refused(self, data: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            Localized.model_validate(data)


class TestPrice:
    @given(
        cop=st.tuples(st.integers(0, 10**11), st.integers(0, 10**11)),
        usd=st.tuples(st.integers(0, 10**8), st.integers(0, 10**8)),
    )
    def test_min_must_not_exceed_max(self, cop: tuple[int, int], usd: tuple[int, int]) -> None:
        data = {
            "cop_min": cop[0],
            "cop_max": cop[1],
            "usd_min": usd[0],
            "usd_max": usd[1],
            "billing": "one_time",
        }
        if cop[0] <= cop[1] and usd[0] <= usd[1]:
            price = Price.model_validate(data)
            assert price.cop_min <= price.cop_max
        else:
            with pytest.raises(ValidationError):
                Price.model_validate(data)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("cop_min", -1), ("cop_min", "1000"), ("cop_max", 1.5), ("billing", "weekly")],
    )
    def test_bad_values(self, field: str, value: Any) -> None:
        data: dict[str, Any] = {
            "cop_min": 1000,
            "cop_max": 2000,
            "usd_min": 1,
            "usd_max": 2,
            "billing": "monthly",
        }
        data[field] = value
        with pytest.raises(ValidationError):
            Price.model_validate(data)


class TestInvalidPacks:
    def test_missing_field(self, pack_copy: Path) -> None:
        services = read(pack_copy / "services.yaml")
        del services["services"][3]["summary"]
        write(pack_copy / "services.yaml", services)
        error = refusal(pack_copy)
        assert isinstance(error, PackInvalid)
        assert error.file == str(pack_copy / "services.yaml")
        assert error.field == "services.3.summary"
        assert error.reason == "required field is missing"

    def test_missing_top_level_field(self, pack_copy: Path) -> None:
        data = read(pack_copy / "pack.yaml")
        del data["version"]
        write(pack_copy / "pack.yaml", data)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "pack.yaml")
        assert error.field == "version"

    def test_min_price_above_max(self, pack_copy: Path) -> None:
        services = read(pack_copy / "services.yaml")
        price = services["services"][2]["price"]
        price["cop_min"] = price["cop_max"] + 1
        write(pack_copy / "services.yaml", services)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "services.yaml")
        assert error.field == "services.2.price.cop_max"
        assert "lower than cop_min" in error.reason

    def test_duplicate_service_id(self, pack_copy: Path) -> None:
        services = read(pack_copy / "services.yaml")
        services["services"][5]["id"] = services["services"][1]["id"]
        write(pack_copy / "services.yaml", services)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "services.yaml")
        assert error.field == "services.5.id"
        assert "duplicate service id" in error.reason
        assert repr(services["services"][1]["id"]) in error.reason

    def test_unknown_field(self, pack_copy: Path) -> None:
        strategies = read(pack_copy / "strategies.yaml")
        strategies["strategies"]["objections"][0]["answr"] = {"es": "x", "en": "y"}
        write(pack_copy / "strategies.yaml", strategies)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "strategies.yaml")
        assert error.field == "strategies.objections.0.answr"
        assert error.reason == "unknown field"

    def test_unknown_top_level_key(self, pack_copy: Path) -> None:
        (pack_copy / "extra.yaml").write_text("servicez: []\n", encoding="utf-8")
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "extra.yaml")
        assert error.field == "servicez"
        assert error.reason == "unknown field"

    def test_malformed_yaml(self, pack_copy: Path) -> None:
        (pack_copy / "services.yaml").write_text(
            "services:\n  - id: seo\n    name: {es: SEO, en: SEO\n", encoding="utf-8"
        )
        error = refusal(pack_copy)
        assert not isinstance(error, PackInvalid)
        assert error.file == str(pack_copy / "services.yaml")
        assert error.field.startswith("line ")
        assert error.reason.startswith("invalid YAML")

    def test_wrong_type_with_yaml_hint(self, pack_copy: Path) -> None:
        text = (pack_copy / "pack.yaml").read_text(encoding="utf-8")
        (pack_copy / "pack.yaml").write_text(
            text.replace('opens: "08:00"', "opens: 8:00"), encoding="utf-8"
        )
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "pack.yaml")
        assert error.field == "company.hours.schedule.0.opens"
        assert "got int 480" in error.reason
        assert "quote the value" in error.reason

    def test_bad_slug(self, pack_copy: Path) -> None:
        services = read(pack_copy / "services.yaml")
        services["services"][0]["id"] = "Página Web"
        write(pack_copy / "services.yaml", services)
        error = refusal(pack_copy)
        assert error.field == "services.0.id"
        assert "slug" in error.reason

    def test_default_language_must_be_listed(self, pack_copy: Path) -> None:
        data = read(pack_copy / "pack.yaml")
        data["languages"] = ["en"]
        write(pack_copy / "pack.yaml", data)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "pack.yaml")
        assert error.field == "default_language"

    def test_unknown_template_placeholder(self, pack_copy: Path) -> None:
        strategies = read(pack_copy / "strategies.yaml")
        strategies["strategies"]["messages"]["handoff"]["en"] = "Call {telephone}"
        write(pack_copy / "strategies.yaml", strategies)
        error = refusal(pack_copy)
        assert error.field == "strategies.messages.handoff.en"
        assert "{telephone}" in error.reason

    def test_unknown_service_in_qualification(self, pack_copy: Path) -> None:
        strategies = read(pack_copy / "strategies.yaml")
        strategies["strategies"]["qualification"][0]["services"] = ["teleportation"]
        write(pack_copy / "strategies.yaml", strategies)
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "strategies.yaml")
        assert error.field == "strategies.qualification.0.services"
        assert "teleportation" in error.reason

    def test_duplicate_yaml_key(self, pack_copy: Path) -> None:
        text = (pack_copy / "pack.yaml").read_text(encoding="utf-8")
        (pack_copy / "pack.yaml").write_text(text + "id: again\n", encoding="utf-8")
        error = refusal(pack_copy)
        assert "duplicate key 'id'" in error.reason

    def test_key_defined_in_two_files(self, pack_copy: Path) -> None:
        (pack_copy / "more.yaml").write_text("services: []\n", encoding="utf-8")
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "services.yaml")
        assert error.field == "services"
        assert "already defined" in error.reason

    def test_yaml_aliases_are_refused(self, pack_copy: Path) -> None:
        (pack_copy / "extra.yaml").write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "extra.yaml")
        assert "aliases" in error.reason

    def test_all_errors_are_collected(self, pack_copy: Path) -> None:
        services = read(pack_copy / "services.yaml")
        del services["services"][0]["name"]
        services["services"][1]["price"]["billing"] = "weekly"
        write(pack_copy / "services.yaml", services)
        error = refusal(pack_copy)
        assert isinstance(error, PackInvalid)
        fields = [item.field for item in error.errors]
        assert fields[0] == error.field == "services.0.name"
        assert "services.1.price.billing" in fields
        assert len(error.details().splitlines()) == len(error.errors)

    def test_empty_file(self, pack_copy: Path) -> None:
        (pack_copy / "strategies.yaml").write_text("", encoding="utf-8")
        error = refusal(pack_copy)
        assert error.file == str(pack_copy / "strategies.yaml")
        assert "empty" in error.reason

    def test_directory_without_pack_file(self, tmp_path: Path) -> None:
        error = refusal(tmp_path)
        assert error.file == str(tmp_path / PACK_FILE)

    def test_missing_path(self, tmp_path: Path) -> None:
        error = refusal(tmp_path / "nope.yaml")
        assert error.file == str(tmp_path / "nope.yaml")

    def test_single_file_errors_name_that_file(self, tmp_path: Path) -> None:
        single = tmp_path / "pack.yaml"
        write(single, {"id": "x", "version": "1.0"})
        error = refusal(single)
        assert error.file == str(single)
        assert error.field in {"languages", "default_language", "company", "services"}

    def test_validate_pack_from_stored_json(self, pack: ContextPack) -> None:
        data = pack.model_dump(mode="json")
        assert validate_pack(data) == pack
        data["services"][0]["price"]["cop_min"] = "cheap"
        with pytest.raises(PackInvalid) as caught:
            validate_pack(data, file="tenant:42")
        assert str(caught.value).startswith("tenant:42: services.0.price.cop_min: ")
