"""``frontdesk intent``: train, evaluate, cross-validate and try the intent classifier."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from frontdesk.cli.common import err, fail, out, print_json
from frontdesk.engine.intent import artifact, metrics, report, training
from frontdesk.engine.intent.artifact import IntentModelError
from frontdesk.engine.intent.classifier import IntentClassifier
from frontdesk.engine.intent.data import Dataset, IntentDataError, read_csv
from frontdesk.engine.intent.labels import LABELS

intent_app = typer.Typer(
    help="The intention engine: train, evaluate, classify.", no_args_is_help=True
)

SHORT = dict(
    zip(
        LABELS,
        ("buy", "price", "info", "sched", "human", "supp", "greet", "bye", "other"),
        strict=True,
    )
)
DataDir = Annotated[Path, typer.Option("--data", help="directory holding train.csv")]
ModelPath = Annotated[
    Path | None, typer.Option("--model", help="model file (default: the packaged one)")
]
Json = Annotated[bool, typer.Option("--json", help="one JSON object on stdout")]
ReportDir = Annotated[
    Path | None, typer.Option("--report", help="write an HTML report into this directory")
]


def _dataset(path: Path) -> Dataset:
    try:
        return read_csv(path)
    except IntentDataError as exc:
        fail(str(exc))


def _classifier(path: Path | None) -> IntentClassifier:
    try:
        return IntentClassifier.load(path)
    except IntentModelError as exc:
        fail(str(exc))


def _print_result(result: dict[str, Any], title: str) -> None:
    out.print(f"[bold]{title}[/bold]: {result['rows']} messages")
    out.print(
        f"accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}   "
        f"ECE {result['ece']:.3f}   abstained {result['abstained']}   "
        f"latency p50 {result['latency_p50_ms']:.3f} ms  p99 {result['latency_p99_ms']:.3f} ms"
    )
    labels = Table("label", "precision", "recall", "F1", "support")
    for label, v in result["per_label"].items():
        labels.add_row(
            label,
            f"{v['precision']:.3f}",
            f"{v['recall']:.3f}",
            f"{v['f1']:.3f}",
            str(v["support"]),
        )
    out.print(labels)
    langs = Table("lang", "macro-F1", "accuracy", "language detected", "support")
    for lang, v in result["per_lang"].items():
        langs.add_row(
            lang,
            f"{v['macro_f1']:.3f}",
            f"{v['accuracy']:.3f}",
            f"{v['language_accuracy']:.3f}",
            str(v["support"]),
        )
    out.print(langs)
    confusion = Table("truth \\ predicted", *SHORT.values())
    for label, row in zip(LABELS, result["confusion"], strict=True):
        confusion.add_row(SHORT[label], *(str(n) if n else "·" for n in row))
    out.print(confusion)
    out.print("  ".join(f"{short} = {label}" for label, short in SHORT.items()), highlight=False)
    for goal, met in result["goals"].items():
        out.print(f"goal {goal}: {'[green]met[/green]' if met else '[red]NOT met[/red]'}")


def _finish(result: dict[str, Any], *, title: str, as_json: bool, report_dir: Path | None) -> None:
    if report_dir is not None:
        try:
            report_dir.mkdir(parents=True, exist_ok=True)
            page = report_dir / "intent-report.html"
            page.write_text(report.render(result, title=title), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write the report into {report_dir}: {exc.strerror}")
        result = {**result, "report": str(page)}
        if not as_json:
            err.print(f"report: {page}", markup=False, highlight=False)
    if as_json:
        print_json(result)
    else:
        _print_result(result, title)


@intent_app.command("train")
def train(
    data: DataDir = Path("data/intent"),
    out_path: Annotated[
        Path | None, typer.Option("--out", help="model file (default: the packaged one)")
    ] = None,
) -> None:
    """Train the classifier on DATA/train.csv and write the model file."""
    dataset = _dataset(data / "train.csv")
    target = out_path or artifact.PACKAGED
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("reading", total=None)
        model = training.train(
            dataset, progress=lambda step: progress.update(task, description=step)
        )
        progress.update(task, description="writing")
        try:
            artifact.save(model, target)
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror}")
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    out.print(
        f"trained on {len(dataset)} messages: {len(model.vocabulary)} features, temperature "
        f"{model.temperature:g}, purchase threshold {model.thresholds['purchase_intent']:g}",
        highlight=False,
    )
    out.print(f"{target} ({target.stat().st_size:,} bytes, sha256 {digest[:16]})", highlight=False)


@intent_app.command("eval")
def evaluate(
    file: Annotated[Path, typer.Argument(help="CSV with a header and columns text,label[,lang]")],
    as_json: Json = False,
    report_dir: ReportDir = None,
    model: ModelPath = None,
) -> None:
    """Score the classifier on FILE: accuracy, macro-F1, per label and language, latency."""
    dataset = _dataset(file)
    classifier = _classifier(model)
    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task("classifying", total=len(dataset))
        outcomes = metrics.classify_all(classifier, dataset, lambda: progress.advance(task))
    result = metrics.summarise(outcomes)
    _finish(result, title=f"Intent evaluation: {file.name}", as_json=as_json, report_dir=report_dir)


@intent_app.command("cv")
def cross_validate(
    data: DataDir = Path("data/intent"),
    folds: Annotated[int, typer.Option(min=2, max=20, help="number of folds")] = 5,
    as_json: Json = False,
    report_dir: ReportDir = None,
) -> None:
    """Stratified k-fold cross-validation over DATA/train.csv, a message's variants together."""
    dataset = _dataset(data / "train.csv")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task("starting", total=None)
        try:
            result = metrics.cross_validate(
                dataset,
                folds=folds,
                progress=lambda step: progress.update(task, description=step),
            )
        except (IntentDataError, ValueError) as exc:
            fail(str(exc).splitlines()[0])
    _finish(
        result,
        title=f"Intent cross-validation ({folds} folds)",
        as_json=as_json,
        report_dir=report_dir,
    )


@intent_app.command("classify")
def classify(
    text: Annotated[str, typer.Argument(help="the message")],
    model: ModelPath = None,
    as_json: Json = False,
) -> None:
    """Classify one message."""
    prediction = _classifier(model).classify(text)
    if as_json:
        print_json(
            {
                "label": prediction.label,
                "confidence": prediction.confidence,
                "language": prediction.language,
                "scores": dict(prediction.scores),
            }
        )
        return
    top = sorted(prediction.scores.items(), key=lambda item: -item[1])[:3]
    out.print(
        f"{prediction.label} ({prediction.confidence:.2f}, {prediction.language})  "
        + "  ".join(f"{label} {p:.2f}" for label, p in top),
        highlight=False,
    )
