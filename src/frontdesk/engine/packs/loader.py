"""Load and validate context packs from YAML, with precise one-line errors."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from frontdesk.engine.packs.schema import SLUG_PATTERN, ContextPack

PACK_FILE = "pack.yaml"
"""The file of a directory pack that holds the pack id, version, languages and company."""

MAX_FILE_BYTES = 2_000_000
ROOT_FIELD = "<root>"

_CONVENTIONAL_FILES: dict[str, str] = {
    "services": "services.yaml",
    "strategies": "strategies.yaml",
}
_YAML_SUFFIXES = (".yaml", ".yml")
_SCALAR_TYPES = (str, int, float, bool, type(None))


class PackError(Exception):
    """A pack that cannot be used: the file, the dotted field path and the reason."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(file, field, reason)
        self.file = file
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class PackInvalid(PackError):
    """Several validation errors; the first one is also this error's file, field and reason."""

    def __init__(self, errors: Sequence[PackError]) -> None:
        if not errors:
            raise ValueError("PackInvalid needs at least one error")
        first = errors[0]
        super().__init__(first.file, first.field, first.reason)
        self.errors: list[PackError] = list(errors)

    def details(self) -> str:
        """Every error, one per line."""
        return "\n".join(str(error) for error in self.errors)


class _PackYamlLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys and aliases."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in packs", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(file: Path) -> dict[str, Any]:
    name = str(file)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PackError(name, ROOT_FIELD, f"file is larger than {MAX_FILE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PackError(name, ROOT_FIELD, "file not found") from exc
    except UnicodeDecodeError as exc:
        raise PackError(name, ROOT_FIELD, f"not valid UTF-8 ({exc.reason})") from exc
    except OSError as exc:
        raise PackError(name, ROOT_FIELD, f"cannot read file ({exc.strerror})") from exc
    try:
        data = yaml.load(text, Loader=_PackYamlLoader)  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        field = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ROOT_FIELD
        problem = exc.problem or exc.context or "syntax error"
        raise PackError(name, field, f"invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise PackError(name, ROOT_FIELD, f"invalid YAML: {exc}") from exc
    if data is None:
        raise PackError(name, ROOT_FIELD, "file is empty; expected a mapping")
    if not isinstance(data, dict):
        raise PackError(name, ROOT_FIELD, f"expected a mapping, got {type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise PackError(name, str(key), f"keys must be strings, got {type(key).__name__}")
    return data


def _pack_files(directory: Path) -> list[Path]:
    main = directory / PACK_FILE
    if not main.is_file():
        raise PackError(str(main), ROOT_FIELD, f"a pack directory needs a {PACK_FILE} file")
    others = sorted(
        entry
        for entry in directory.iterdir()
        if entry.suffix in _YAML_SUFFIXES
        and entry.name != PACK_FILE
        and not entry.name.startswith(".")
        and entry.is_file()
    )
    return [main, *others]


def _describe_input(value: Any) -> str:
    if isinstance(value, _SCALAR_TYPES):
        text = repr(value)
        if len(text) > 60:
            text = text[:57] + "..."
        return f"{type(value).__name__} {text}"
    return type(value).__name__


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG_PATTERN:
        reason = "must be a slug (lowercase letters, digits and single hyphens)"
    else:
        message = error["msg"]
        reason = message[:1].lower() + message[1:]
    if kind in {"duplicate_id", "unknown_service"} or "input" not in error:
        return reason
    value = error["input"]
    if isinstance(value, dict | list) and kind not in {"dict_type", "model_type"}:
        return reason
    reason = f"{reason} (got {_describe_input(value)})"
    if kind == "string_type" and isinstance(value, _SCALAR_TYPES):
        reason += "; quote the value in YAML"
    return reason


def _location(error: ErrorDetails) -> tuple[str | int, ...]:
    loc = tuple(error["loc"])
    extra = (error.get("ctx") or {}).get("path")
    if isinstance(extra, tuple):
        loc += tuple(part for part in extra if isinstance(part, str | int))
    return loc


def _errors_from_validation(
    exc: ValidationError, file_for: Mapping[str, str], default_file: str
) -> PackInvalid:
    errors: list[PackError] = []
    for error in exc.errors(include_url=False):
        loc = _location(error)
        head = str(loc[0]) if loc else ""
        field = ".".join(str(part) for part in loc) or ROOT_FIELD
        errors.append(PackError(file_for.get(head, default_file), field, _reason(error)))
    return PackInvalid(errors)


def validate_pack(
    data: Any, *, file: str = "<data>", file_for: Mapping[str, str] | None = None
) -> ContextPack:
    """Validate pack data (e.g. JSON from storage), raising ``PackInvalid`` when it is invalid.

    ``file`` names the source in errors; ``file_for`` maps top-level keys to their own source.
    """
    try:
        return ContextPack.model_validate(data)
    except ValidationError as exc:
        raise _errors_from_validation(exc, file_for or {}, file) from exc


def load_pack(path: Path | str) -> ContextPack:
    """Load a pack from a directory of YAML files (``pack.yaml`` first) or from one YAML file.

    Raises ``PackError`` (``PackInvalid`` for validation errors) naming the file that holds the
    faulty field, its dotted path and the reason.
    """
    path = Path(path)
    if path.is_dir():
        merged: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for file in _pack_files(path):
            for key, value in _read_yaml(file).items():
                if key in owner:
                    raise PackError(str(file), key, f"already defined in {owner[key]}")
                merged[key] = value
                owner[key] = str(file)
        default_file = str(path / PACK_FILE)
        for key, name in _CONVENTIONAL_FILES.items():
            conventional = path / name
            if key not in owner and conventional.is_file():
                owner[key] = str(conventional)
        return validate_pack(merged, file=default_file, file_for=owner)
    if not path.exists():
        raise PackError(str(path), ROOT_FIELD, "no such pack file or directory")
    return validate_pack(_read_yaml(path), file=str(path))


def default_pack_dir() -> Path:
    """The repository's ``packs/colombiatic`` directory."""
    directory = Path(__file__).resolve().parents[4] / "packs" / "colombiatic"
    if not (directory / PACK_FILE).is_file():
        raise PackError(str(directory), ROOT_FIELD, "default pack directory not found")
    return directory


def load_default_pack() -> ContextPack:
    """Load the Colombiatic pack shipped with the repository."""
    return load_pack(default_pack_dir())
