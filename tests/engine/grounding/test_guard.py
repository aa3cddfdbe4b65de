"""The price and promise guard: amounts parsed every way people write them, checked against the pack."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.engine.grounding import check, extract_amounts, extract_percentages, parse_number
from frontdesk.engine.packs import load_default_pack

PACK = load_default_pack()


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("$1.200.000", 1_200_000, None),
        ("1,2 millones", 1_200_000, None),
        ("1.5M", 1_500_000, None),
        ("USD 300", 300, "USD"),
        ("300 dólares", 300, "USD"),
        ("300 dolares", 300, "USD"),
        ("300 dollars", 300, "USD"),
        ("US$1,125", 1_125, "USD"),
        ("$ 2.500.000 COP", 2_500_000, "COP"),
        ("COP 4,500,000", 4_500_000, "COP"),
        ("800 mil", 800_000, None),
        ("2 millones de pesos", 2_000_000, "COP"),
        ("1.500 millones", 1_500_000_000, None),
        ("3 mil millones de pesos", 3_000_000_000, "COP"),
        ("$1.200.000,50", 1_200_000.5, None),
        ("$1,200,000.50", 1_200_000.5, None),
        ("5k", 5_000, None),
        ("2,5MM", 2_500_000, None),
        ("2.5 million dollars", 2_500_000, "USD"),
        ("10 thousand pesos", 10_000, "COP"),
    ],
)
def test_amounts(text: str, value: float, currency: str | None) -> None:
    [amount] = extract_amounts(f"El valor es {text}, ¿te sirve?")
    assert amount.value == pytest.approx(value)
    assert amount.currency == currency
    assert amount.text.strip() == text


def test_ranges_share_currency_and_magnitude() -> None:
    amounts = extract_amounts("aprox. USD 1,125–4,500 o entre 1,2 y 4 millones de pesos")
    assert [(a.value, a.currency) for a in amounts] == [
        (1_125, "USD"),
        (4_500, "USD"),
        (1_200_000, "COP"),
        (4_000_000, "COP"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Entregamos en 3 a 6 semanas",
        "Carga inicial de hasta 100 productos",
        "Llámanos al +57 300 123 4567",
        "Abierto 24/7, de 8:00 a 18:00",
        "Asesoría de 30 minutos",
        "a 5 m de la oficina",
        "versión 2.0 del sitio",
    ],
)
def test_bare_numbers_are_not_money(text: str) -> None:
    assert extract_amounts(text) == []


def test_percentages() -> None:
    assert extract_percentages(
        "50 % al iniciar, 90% de descuento, 30 por ciento, 12.5 percent"
    ) == [
        (50, "50 %"),
        (90, "90%"),
        (30, "30 por ciento"),
        (12.5, "12.5 percent"),
    ]


def test_parse_number_conventions() -> None:
    assert parse_number("1.200.000") == parse_number("1,200,000") == 1_200_000
    assert parse_number("1,2") == parse_number("1.2") == 1.2
    assert parse_number("1.500") == parse_number("1,500") == 1500
    assert parse_number("1.200,5") == parse_number("1,200.5") == 1200.5
    assert parse_number("42") == 42


def _spanish(value: int) -> str:
    return f"{value:,}".replace(",", ".")


@settings(max_examples=300, deadline=None)
@given(
    value=st.integers(min_value=1, max_value=10**10),
    style=st.sampled_from(["$es", "$en", "cop_after", "usd_before", "dolares", "pesos"]),
    before=st.text(alphabet="abcdefghij ¿?¡!,;", max_size=20),
    after=st.text(alphabet="abcdefghij ¿?¡!,;", max_size=20),
)
def test_any_written_amount_is_parsed_back(value: int, style: str, before: str, after: str) -> None:
    written = {
        "$es": f"${_spanish(value)}",
        "$en": f"${value:,}",
        "cop_after": f"$ {_spanish(value)} COP",
        "usd_before": f"USD {value:,}",
        "dolares": f"{value:,} dólares",
        "pesos": f"{_spanish(value)} pesos",
    }[style]
    amounts = extract_amounts(f"{before} {written} {after}")
    assert [a.value for a in amounts] == [value]


@settings(max_examples=200, deadline=None)
@given(
    millions=st.integers(min_value=1, max_value=999),
    tenths=st.integers(min_value=0, max_value=9),
    word=st.sampled_from(["millones", "M", "MM", "millón", "million"]),
    decimal=st.sampled_from([",", "."]),
)
def test_magnitudes_are_parsed_back(millions: int, tenths: int, word: str, decimal: str) -> None:
    number = f"{millions}{decimal}{tenths}" if tenths else str(millions)
    space = "" if word in ("M", "MM") else " "
    [amount] = extract_amounts(f"cuesta {number}{space}{word} aprox")
    assert amount.value == pytest.approx((millions + tenths / 10) * 1_000_000)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_never_crashes_and_amounts_come_from_the_text(text: str) -> None:
    for amount in extract_amounts(text):
        assert text[amount.start : amount.end] == amount.text
        assert amount.value >= 0
    check(text, PACK)


def test_pack_prices_pass_and_others_do_not() -> None:
    grounded = (
        "La tienda virtual va desde $4.500.000 hasta $18.000.000 COP (aprox. USD 1,125–4,500); "
        "el SEO desde 1,2 millones al mes, y el branding desde 1.5M. Pagas 50 % al iniciar."
    )
    assert check(grounded, PACK) == []
    english = "Branding costs from COP 1,500,000 to COP 7,000,000 (about USD 375–1,750)."
    assert check(english, PACK) == []
    violations = check("te lo dejamos en $99 con 90% de descuento", PACK)
    assert [(v.kind, v.text) for v in violations] == [("amount", "$99"), ("percentage", "90%")]


def test_currency_matters() -> None:
    # 625 is a dollar price of the pack, not a peso price; 4.500.000 is pesos, not dollars.
    assert check("USD 625", PACK) == []
    assert [v.kind for v in check("625 pesos", PACK)] == ["amount"]
    assert [v.kind for v in check("USD 4,500,000", PACK)] == ["amount"]
    assert check("$625", PACK) == []  # a bare $ may be either


def test_invented_promises_services_and_plans() -> None:
    text = "Con el Plan Premium te damos fotografía profesional gratis y reembolso total."
    found = {(v.kind, v.text) for v in check(text, PACK)}
    assert found == {
        ("service", "Plan Premium"),
        ("service", "fotografia"),
        ("promise", "gratis"),
        ("promise", "reembolso"),
    }
    # What the pack itself promises or names passes: a free consultation, discount coupons.
    assert check("La asesoría es gratuita y la tienda incluye cupones de descuento.", PACK) == []
    assert (
        check("Our hosting plan renews yearly; the free consultation takes 30 minutes.", PACK) == []
    )
