"""Settings from four layers, each overriding the one before: the model's defaults, a TOML file,
environment variables (`ROBOTWATCH_*` for serve, another prefix for another command such as
`ROBOTWATCH_ALERTS_*`; `__` between a section and its key), and the command line. Every value
remembers where it came from, for `robotwatch config show`.

A setting that is wrong is one line naming where it was set, the key as it is written in the
TOML file (`kafka.bootstrap_servers`, `channels.mail.port`, `routes[0].channels`), the value
(secrets as `***`) and what is allowed; an unknown key is an error too, with the closest known
key as a suggestion: a typo must never fall back to a default without a word (a misspelt
`[kafka]` key used to connect to localhost over PLAINTEXT).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import types
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from rwcore.errors import UserError

ENV_PREFIX = "ROBOTWATCH_"
Model = TypeVar("Model", bound=BaseModel)
Key = tuple[str, ...]
MAX_VALUE_CHARS = 60  # a value longer than this is cut in a message: the line stays readable
# A value under a key with one of these words in its name is never shown (headers carry tokens).
SECRET_WORDS = ("password", "secret", "token", "authorization", "headers")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class SettingsError(UserError):
    """Settings that cannot be used; each line names one problem."""


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"{path}: no such configuration file")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read ({exc})") from None


def suggestion(word: str, known: Collection[str]) -> str:
    """` (did you mean 'x'?)`, or nothing when no known word is close."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    if not close:  # librdkafka-style names: `sasl.username` for `sasl_plain_username`
        close = difflib.get_close_matches(word.replace(".", "_"), list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- the layers -------------------------------------------------------------------------------
def _set(tree: dict[str, Any], key: Key, value: object) -> None:
    for part in key[:-1]:
        tree = tree.setdefault(part, {})
    tree[key[-1]] = value


def _unset(tree: dict[str, Any], key: Key) -> None:
    for part in key[:-1]:
        tree = tree.get(part, {})
        if not isinstance(tree, dict):
            return
    tree.pop(key[-1], None)


def _walk(tree: Mapping[str, Any], prefix: Key = ()) -> list[tuple[Key, Any]]:
    out: list[tuple[Key, Any]] = []
    for name, value in tree.items():
        if isinstance(value, Mapping) and value:
            out += _walk(value, (*prefix, name))
        else:
            out.append(((*prefix, name), value))
    return out


def _holds_settings(annotation: Any) -> bool:
    """A nested settings model, or a table of them (alerts' `channels.NAME`): what takes `__`.
    A table of plain values (serve's `[models]`, robot globs to files) does not: a glob in an
    environment variable's name would lose its case."""
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        return True
    args = get_args(annotation)
    if get_origin(annotation) is dict and len(args) == 2:
        value = _unwrap(args[1])
        return _is_model(value) or bool(_members(value))
    return False


def environment(model: type[BaseModel], env: Mapping[str, str], prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """`ROBOTWATCH_GROUP=x` -> {"group": "x"}; `ROBOTWATCH_KAFKA__SASL_MECHANISM=y` -> nested.
    Top-level names the model does not know are left alone (they may be another tool's, or
    another command's: serve's prefix ROBOTWATCH_ is a part of alerts' ROBOTWATCH_ALERTS_)."""
    out: dict[str, Any] = {}
    fields = model.model_fields
    for name, value in env.items():
        if not name.startswith(prefix):
            continue
        parts = tuple(p.lower() for p in name[len(prefix) :].split("__"))
        field = fields.get(parts[0])
        if field is not None and (len(parts) == 1 or _holds_settings(field.annotation)):
            _set(out, parts, value)
    return out


def load(
    model: type[Model],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    env_prefix: str = ENV_PREFIX,
    replace: Collection[Key] = (),
    flags: Mapping[Key, str] | None = None,
) -> tuple[Model, dict[Key, str]]:
    """The settings of `model` from its defaults, `path`, the environment (names beginning
    with `env_prefix`) and `overrides` (command-line values; None means "not given"); and
    where each value came from.

    `replace`: sections that a command-line value replaces whole instead of key by key (a
    channel given by flags is not mixed with the file's channel of that name). `flags`: the
    option that set a key or a section, where that is not `--` and the key's own name."""
    env = os.environ if env is None else env
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), read_toml(path)))
    layers.append(("environment", environment(model, env, env_prefix)))
    layers.append(("command line", _given(overrides or {})))
    data: dict[str, Any] = {}
    origins: dict[Key, str] = {}
    spelled: dict[Key, str] = {}  # a key (or section) -> the name the user gave it, e.g. an alias
    for source, layer in layers:
        if source == "command line":
            for section in replace:
                if any(k[: len(section)] == section for k, _ in _walk(layer)):
                    _unset(data, section)
                    origins = {k: o for k, o in origins.items() if k[: len(section)] != section}
        for given, value in _walk(layer):
            key = _canonical(model, given)
            _set(data, key, value)
            if source == "environment":
                origins[key] = "env " + env_prefix + "__".join(p.upper() for p in given)
            elif source == "command line":
                origins[key] = _flag(given, flags or {})
            else:
                origins[key] = source
            for i in range(len(key)):
                spelled.setdefault(key[: i + 1], given[i])
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        where = str(path) if path is not None else None
        lines = [_problem(model, e, origins, spelled, where) for e in exc.errors()]
        raise SettingsError("\n".join(lines)) from None
    return settings, origins


def _flag(key: Key, flags: Mapping[Key, str]) -> str:
    for n in range(len(key), 0, -1):
        if key[:n] in flags:
            return flags[key[:n]]
    return "--" + key[-1].replace("_", "-")


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
        annotation = _unwrap(info.annotation) if info is not None else None
        model = annotation if _is_model(annotation) else None
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


# -- one line per problem ---------------------------------------------------------------------
def _problem(
    model: type[BaseModel],
    error: ErrorDetails,
    origins: Mapping[Key, str],
    spelled: Mapping[Key, str],
    path: str | None,
) -> str:
    message = _lower_first(error["msg"].removeprefix("Value error, "))
    if not error["loc"]:  # a check of the whole (a route naming a channel that does not exist)
        return f"{path}: {message}" if path else message
    loc, parent, annotation = _located(model, error["loc"])
    key = _name(loc, spelled)
    where = _where(origins, loc) or path or "settings"
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _keys(parent)
        hint = suggestion(str(loc[-1]), known) or (f"; known: {', '.join(known)}" if known else "")
        return f"{where}: {key}: unknown setting{hint}"
    if kind == "missing":
        return f"{where}: {key}: missing (required)"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = error.get("ctx", {}).get("expected_tags", "")
        tags = [t.strip(" '") for t in expected.split(",")] if expected else _tags(annotation)
        tag = error.get("ctx", {}).get("tag")
        if tag is None:
            return f"{where}: {key}.type: missing; one of {', '.join(tags)}"
        shown = _shown(str(tag))
        return f"{where}: {key}.type = {shown}: must be one of {', '.join(tags)}{suggestion(str(tag), tags)}"
    secret = _secret(loc) or _unwrap(annotation) is SecretStr
    return f"{where}: {key} = {'***' if secret else _shown(error.get('input'))}: {message}"


def _lower_first(message: str) -> str:
    """`Input should be ...` reads as `input should be ...` after a colon; `URL ...` stays."""
    if len(message) > 1 and message[0].isupper() and not message[1].isupper():
        return message[0].lower() + message[1:]
    return message


def _secret(loc: tuple[str | int, ...]) -> bool:
    return any(word in str(part).lower() for part in loc for word in SECRET_WORDS)


def _shown(value: object) -> str:
    """The value as it would be written in TOML (strings in double quotes), cut when long."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _name(loc: tuple[str | int, ...], spelled: Mapping[Key, str]) -> str:
    """`kafka."security.protocol"`, `channels.mail.port`, `routes[0].channels`: as in TOML."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        written = spelled.get(tuple(str(p) for p in loc[: i + 1]), part)
        written = written if _BARE_KEY.fullmatch(written) else json.dumps(written)
        text += f".{written}" if text else written
    return text


def _where(origins: Mapping[Key, str], loc: tuple[str | int, ...]) -> str | None:
    """Where the value at `loc` was set; for a key that is missing or a section, where its
    section was set (the closest enclosing one that has a value from somewhere)."""
    key = tuple(str(p) for p in loc)
    for n in range(len(key), 0, -1):
        if key[:n] in origins:
            return origins[key[:n]]
        under = next((o for k, o in origins.items() if k[:n] == key[:n]), None)
        if under is not None:
            return under
    return None


def _located(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[tuple[str | int, ...], Any, Any]:
    """pydantic's error location as the user's key (union members it tried left out), the
    type that holds its last part (for the keys allowed beside it), and the last part's type."""
    out: list[str | int] = []
    annotation: Any = model
    for part in loc[:-1]:
        annotation = _unwrap(annotation)
        tags = _tags(annotation)
        if tags and str(part) in tags:  # pydantic names the union member it tried
            annotation = _members(annotation)[tags.index(str(part))]
            continue
        out.append(part)
        annotation = _child(annotation, part)
    parent = _unwrap(annotation)
    out.append(loc[-1])
    return tuple(out), parent, _child(parent, loc[-1])


def _child(annotation: Any, part: int | str) -> Any:
    if _is_model(annotation):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field is not None else None
    args = get_args(annotation)
    if get_origin(annotation) is dict and len(args) == 2:
        return args[1]
    if get_origin(annotation) is list and args:
        return args[0]
    return None


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] -> X and X | None -> X."""
    while True:
        if hasattr(annotation, "__metadata__"):
            annotation = get_args(annotation)[0]
            continue
        members = [a for a in _union_args(annotation) if a is not type(None)]
        if len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Union or isinstance(annotation, types.UnionType):
        return get_args(annotation)
    return ()


def _members(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _union_args(annotation) if _is_model(a)]


def _tags(annotation: Any) -> list[str]:
    """The `type` values of a union of settings models (alerts' channel types)."""
    tags = []
    for member in _members(_unwrap(annotation)):
        field = member.model_fields.get("type")
        if field is not None and get_origin(field.annotation) is Literal:
            tags.append(str(get_args(field.annotation)[0]))
    return tags


def _keys(annotation: Any) -> list[str]:
    return sorted(annotation.model_fields) if _is_model(annotation) else []


# -- what is in effect ------------------------------------------------------------------------
def described(settings: BaseModel, origins: Mapping[Key, str]) -> list[tuple[str, str, str]]:
    """(key, value, origin) of every setting in effect, secrets masked. A table of settings
    (alerts' channels) and a list of them (its routes) are shown key by key."""
    rows = []

    def origin(key: tuple[str | int, ...]) -> str:
        path = tuple(str(p) for p in key)
        if path in origins:
            return origins[path]
        under = next((o for k, o in origins.items() if k[: len(path)] == path), None)
        if under is not None:  # a table given key by key
            return under
        for n in range(len(path) - 1, 0, -1):  # an item of a list given whole
            if path[:n] in origins:
                return origins[path[:n]]
        return "default"

    def visit(value: object, key: tuple[str | int, ...]) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                visit(getattr(value, name), (*key, name))
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            for name, item in value.items():
                visit(item, (*key, name))
        elif isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
            for i, item in enumerate(value):
                visit(item, (*key, i))
        else:
            shown = "***" if isinstance(value, SecretStr) or (_secret(key) and value) else _plain(value)
            rows.append((_name(key, {}), shown, origin(key)))

    visit(settings, ())
    return rows


def _plain(value: object) -> str:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {_plain(v)}" for k, v in value.items()) or "{}"
    return "–" if value is None else str(value)
