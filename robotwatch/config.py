"""Settings from four layers, each overriding the one before: the model's defaults, a TOML file,
`ROBOTWATCH_*` environment variables (`__` between a section and its key), and the command
line. Every value remembers where it came from, for `robotwatch config show`.

A setting that is wrong is one line naming where it was set, the key, the value and what is
allowed; an unknown key is an error too, with the closest known key as a suggestion: a typo
must never fall back to a default without a word (a misspelt `[kafka]` key used to connect
to localhost over PLAINTEXT).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from rwcore.errors import UserError

ENV_PREFIX = "ROBOTWATCH_"
Model = TypeVar("Model", bound=BaseModel)
Key = tuple[str, ...]


class SettingsError(UserError):
    """Settings that cannot be used; each line names one problem."""


@dataclass
class Loaded:
    settings: BaseModel
    origins: dict[Key, str] = field(default_factory=dict)  # key path -> where its value came from


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"{path}: no such configuration file")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read ({exc})") from None


def _set(tree: dict[str, Any], key: Key, value: object) -> None:
    for part in key[:-1]:
        tree = tree.setdefault(part, {})
    tree[key[-1]] = value


def _walk(tree: Mapping[str, Any], prefix: Key = ()) -> list[tuple[Key, Any]]:
    out: list[tuple[Key, Any]] = []
    for name, value in tree.items():
        if isinstance(value, Mapping) and value:
            out += _walk(value, (*prefix, name))
        else:
            out.append(((*prefix, name), value))
    return out


def _sections(model: type[BaseModel]) -> set[str]:
    """Fields that hold a nested settings model: their environment variables take `__`."""
    return {
        name
        for name, info in model.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    }


def environment(model: type[BaseModel], env: Mapping[str, str]) -> dict[str, Any]:
    """`ROBOTWATCH_GROUP=x` -> {"group": "x"}; `ROBOTWATCH_KAFKA__SASL_MECHANISM=y` -> nested.
    Top-level names the model does not know are left alone (they may be another tool's)."""
    out: dict[str, Any] = {}
    known, sections = set(model.model_fields), _sections(model)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = tuple(p.lower() for p in name[len(ENV_PREFIX) :].split("__"))
        if parts[0] in sections or (len(parts) == 1 and parts[0] in known):
            _set(out, parts, value)
    return out


def load(
    model: type[Model],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Model, dict[Key, str]]:
    """The settings of `model` from its defaults, `path`, the environment and `overrides`
    (command-line values; None means "not given"); and where each value came from."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), read_toml(path)))
    layers.append(("environment", environment(model, env)))
    layers.append(("command line", _given(overrides or {})))
    data: dict[str, Any] = {}
    origins: dict[Key, str] = {}
    for source, layer in layers:
        for given, value in _walk(layer):
            key = _canonical(model, given)
            _set(data, key, value)
            origins[key] = _origin(source, given)
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        raise SettingsError("\n".join(_problems(model, exc, data, origins))) from None
    return settings, origins


def _canonical(model: type[BaseModel] | None, key: Key) -> Key:
    """The key with every alias (librdkafka's `bootstrap.servers`) replaced by its field name."""
    out = []
    for part in key:
        name, info = part, None
        if model is not None:
            for field_name, field_info in model.model_fields.items():
                choices = getattr(field_info.validation_alias, "choices", ())
                if part == field_name or part in choices:
                    name, info = field_name, field_info
                    break
        out.append(name)
        annotation = info.annotation if info is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return tuple(out)


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values actually given: None (an option not used) is left out, at any depth."""
    out = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            value = _given(value)
        if value is not None and value != {}:
            out[name] = value
    return out


def _origin(source: str, key: Key) -> str:
    if source == "environment":
        return "env " + ENV_PREFIX + "__".join(p.upper() for p in key)
    if source == "command line":
        return "--" + key[-1].replace("_", "-")
    return source


def _problems(
    model: type[BaseModel], exc: ValidationError, data: dict[str, Any], origins: dict[Key, str]
) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        where = origins.get(loc) or next((origins[k] for k in origins if k[: len(loc)] == loc), "settings")
        name = ".".join(loc) if len(loc) < 2 else f"[{'.'.join(loc[:-1])}] {loc[-1]}"
        if error["type"] == "extra_forbidden":
            near = difflib.get_close_matches(loc[-1], _field_names(model, loc[:-1]), n=1, cutoff=0.6)
            hint = (
                f"; did you mean {near[0]}?"
                if near
                else f"; known: {', '.join(_field_names(model, loc[:-1]))}"
            )
            lines.append(f"{where}: {name}: unknown setting{hint}")
            continue
        shown = "" if error["type"] == "missing" else f" = {_shown(loc, error.get('input'))}"
        lines.append(f"{where}: {name}{shown}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def _shown(loc: Key, value: object) -> str:
    secret = any(word in loc[-1] for word in ("password", "secret", "token"))
    return "'***'" if secret else repr(value)


def _field_names(model: type[BaseModel], section: Key) -> list[str]:
    for name in section:
        info = model.model_fields.get(name)
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return []
        model = info.annotation
    return sorted(model.model_fields)


def described(settings: BaseModel, origins: Mapping[Key, str]) -> list[tuple[str, str, str]]:
    """(key, value, origin) of every setting in effect, secrets masked."""
    rows = []

    def visit(obj: BaseModel, prefix: Key) -> None:
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            key = (*prefix, name)
            if isinstance(value, BaseModel):
                visit(value, key)
                continue
            text = "***" if isinstance(value, SecretStr) and value is not None else _plain(value)
            rows.append((".".join(key), text, origins.get(key, "default")))

    visit(settings, ())
    return rows


def _plain(value: object) -> str:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_plain(v)}" for k, v in value.items()) or "{}"
    return "–" if value is None else str(value)
