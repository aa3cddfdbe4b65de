"""An evaluation as one self-contained HTML page: figures, the confusion matrix as a coloured grid,
per-label bars and a reliability diagram, all inline (no scripts, fonts or images fetched)."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d232b;max-width:70rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse}td,th{padding:.3rem .5rem;text-align:right}
th{font-weight:600}.label{text-align:left}
table.confusion td{width:3rem;text-align:center;border:1px solid #fff}
.ok{color:#17803d}.miss{color:#b42318}
.bar{height:.8rem;background:#2f6fdf;display:inline-block;vertical-align:middle}
"""


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _confusion(result: dict[str, Any]) -> str:
    labels: list[str] = result["labels"]
    matrix: list[list[int]] = result["confusion"]
    head = "".join(
        f'<th title="predicted {escape(label)}">{escape(label)}</th>' for label in labels
    )
    rows = []
    for label, counts in zip(labels, matrix, strict=True):
        total = sum(counts) or 1
        cells = []
        for predicted, count in zip(labels, counts, strict=True):
            share = count / total
            hue = 140 if predicted == label else 5
            colour = f"hsl({hue} 70% {100 - 55 * share:.0f}%)" if count else "#f5f6f8"
            text = "#fff" if share > 0.55 else "#1d232b"
            cells.append(
                f'<td style="background:{colour};color:{text}" '
                f'title="{escape(label)} → {escape(predicted)}: {count}">{count}</td>'
            )
        rows.append(f'<tr><th class="label">{escape(label)}</th>{"".join(cells)}</tr>')
    return (
        '<table class="confusion"><tr><th class="label">truth ↓ / predicted →</th>'
        f"{head}</tr>{''.join(rows)}</table>"
    )


def _per_label(result: dict[str, Any]) -> str:
    rows = []
    for label, figures in result["per_label"].items():
        bar = f'<span class="bar" style="width:{figures["f1"] * 12:.2f}rem"></span>'
        rows.append(
            f'<tr><td class="label">{escape(label)}</td><td>{_pct(figures["precision"])}</td>'
            f"<td>{_pct(figures['recall'])}</td><td>{_pct(figures['f1'])}</td>"
            f'<td>{figures["support"]}</td><td class="label">{bar}</td></tr>'
        )
    return (
        "<table><tr><th class='label'>label</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>support</th><th class='label'>F1</th></tr>{''.join(rows)}</table>"
    )


def _reliability(result: dict[str, Any]) -> str:
    size, pad = 260, 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 2 * pad}" '
        f'height="{size + 2 * pad}" role="img" aria-label="reliability diagram">',
        f'<rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="#f5f6f8"/>',
        f'<line x1="{pad}" y1="{pad + size}" x2="{pad + size}" y2="{pad}" '
        'stroke="#98a2b3" stroke-dasharray="4 3"/>',
    ]
    width = size / len(result["reliability"])
    for n, row in enumerate(result["reliability"]):
        if not row["count"]:
            continue
        height = row["accuracy"] * size
        parts.append(
            f'<rect x="{pad + n * width + 1:.1f}" y="{pad + size - height:.1f}" '
            f'width="{width - 2:.1f}" height="{height:.1f}" fill="#2f6fdf" opacity=".8">'
            f"<title>{row['lower']:.1f}–{row['upper']:.1f}: accuracy {row['accuracy']:.2f}, "
            f"confidence {row['confidence']:.2f}, {row['count']} rows</title></rect>"
        )
        y = pad + size - row["confidence"] * size
        parts.append(
            f'<circle cx="{pad + (n + 0.5) * width:.1f}" cy="{y:.1f}" r="3" fill="#b42318"/>'
        )
    parts.append(
        f'<text x="{pad}" y="{pad + size + 20}" font-size="11">confidence 0 → 1 '
        "(bars: accuracy, dots: mean confidence)</text></svg>"
    )
    return "".join(parts)


def render(result: dict[str, Any], *, title: str) -> str:
    """The HTML page for one evaluation result (as :func:`metrics.summarise` returns it)."""
    goals = "".join(
        f'<li class="{"ok" if met else "miss"}">{escape(name)}: {"met" if met else "NOT met"}</li>'
        for name, met in result["goals"].items()
    )
    langs = "".join(
        f"<tr><td class='label'>{escape(lang)}</td><td>{_pct(v['macro_f1'])}</td>"
        f"<td>{_pct(v['accuracy'])}</td><td>{v['support']}</td></tr>"
        for lang, v in result["per_lang"].items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<p>{result["rows"]} messages · accuracy <b>{_pct(result["accuracy"])}</b> · macro-F1
<b>{_pct(result["macro_f1"])}</b> · ECE {result["ece"]:.3f} · abstained {result["abstained"]}
· latency p50 {result["latency_p50_ms"]:.3f} ms, p99 {result["latency_p99_ms"]:.3f} ms</p>
<ul>{goals}</ul>
<h2>Confusion matrix</h2>{_confusion(result)}
<h2>Per label</h2>{_per_label(result)}
<h2>Per language</h2><table><tr><th class="label">lang</th><th>macro-F1</th><th>accuracy</th>
<th>support</th></tr>{langs}</table>
<h2>Reliability</h2>{_reliability(result)}
</body></html>
"""
