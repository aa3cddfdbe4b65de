"""``frontdesk intent``: eval (text, --json, --report), cv, train, classify; bad input → exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.engine.intent import artifact
from frontdesk.engine.intent.labels import LABELS

runner = CliRunner()

SAMPLE = """text,label,lang,notes
hola buenas,greeting,es,a
cuánto vale una página web?,pricing,es,b
quiero contratar la tienda virtual,purchase_intent,es,
my website is down,support,en,
can we schedule a call tomorrow?,schedule,en,
thanks a lot,goodbye_thanks,en,
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["intent", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.csv"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_eval_prints_the_figures(sample: Path) -> None:
    code, out, _ = invoke("eval", str(sample))
    assert code == 0, out
    for word in ("accuracy", "macro-F1", "precision", "recall", "p99", "truth", "es", "en"):
        assert word in out


def test_eval_json_has_the_keys_and_sane_numbers(sample: Path) -> None:
    code, out, _ = invoke("eval", str(sample), "--json")
    assert code == 0
    result = json.loads(out)
    for key in ("accuracy", "macro_f1", "per_label", "per_lang", "latency_p99_ms", "confusion"):
        assert key in result
    assert 0.0 <= result["accuracy"] <= 1.0
    assert 0.0 <= result["macro_f1"] <= 1.0
    assert result["accuracy"] >= 5 / 6
    assert set(result["per_label"]) == set(LABELS)
    assert set(result["per_lang"]) == {"es", "en"}
    assert result["latency_p99_ms"] >= result["latency_p50_ms"] > 0
    assert sum(map(sum, result["confusion"])) == result["rows"] == 6
    assert 0.0 <= result["ece"] <= 1.0


def test_eval_report_draws_the_matrix(sample: Path, tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    code, out, _ = invoke("eval", str(sample), "--report", str(report_dir), "--json")
    assert code == 0
    page = Path(json.loads(out)["report"])
    assert page.parent == report_dir
    html = page.read_text(encoding="utf-8")
    assert '<table class="confusion">' in html
    assert html.count('<td style="background:') == len(LABELS) ** 2
    assert "<svg" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"text\nhola\n", "missing column label"),
        (b"text,label\nhola,saludo\n", "unknown label"),
        ("text,label\nqué tal,greeting\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_csv_is_one_line_and_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    code, out, err = invoke("eval", str(path))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_missing_file_and_bad_model_exit_2(sample: Path, tmp_path: Path) -> None:
    code, _, err = invoke("eval", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "cannot read" in err
    bad = tmp_path / "bad.fdim"
    bad.write_bytes(b"garbage")
    code, _, err = invoke("eval", str(sample), "--model", str(bad))
    assert code == 2
    assert "bad magic" in err
    assert len(err.strip().splitlines()) == 1


def test_classify(tmp_path: Path) -> None:
    code, out, _ = invoke("classify", "quiero hablar con un asesor", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["label"] == "human_handoff"
    assert result["language"] == "es"
    code, out, _ = invoke("classify", "how much is a website?")
    assert code == 0
    assert out.startswith("pricing")


def test_train_then_cv_on_a_small_set(small_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "model.fdim"
    code, out, _ = invoke("train", "--data", str(small_dir), "--out", str(target))
    assert code == 0, out
    assert "trained on" in out
    assert artifact.load(target).info["rows"] > 100
    code, out, _ = invoke("eval", str(small_dir / "train.csv"), "--model", str(target), "--json")
    assert json.loads(out)["accuracy"] > 0.9
    code, out, _ = invoke("cv", "--data", str(small_dir), "--folds", "3", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["folds"] == 3
    assert result["rows"] == sum(1 for _ in (small_dir / "train.csv").open()) - 1
    assert 0.3 < result["macro_f1"] <= 1.0


def test_train_without_data_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke("train", "--data", str(tmp_path), "--out", str(tmp_path / "m.fdim"))
    assert code == 2
    assert "train.csv" in err
