"""A settings error as the one line a user reads: the key as written in the TOML file, the value
given and what is allowed, and for an unknown key the nearest known one."""

from __future__ import annotations

import difflib
import json
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rwcore.errors import UserError

MAX_VALUE_CHARS = 60


class AlertSettingsError(UserError):
    """Settings of `robotwatch alerts` that cannot be used; the text is the whole story."""


def suggestion(word: str, known: list[str]) -> str:
    """` (did you mean 'x'?)`, or nothing when no known word is close."""
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if not close:  # librdkafka-style names: `sasl.username` for `sasl_plain_username`
        close = difflib.get_close_matches(word.replace(".", "_"), known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_line(exc: ValidationError, model: type[BaseModel], where: str | None) -> AlertSettingsError:
    """Every problem, `; ` between them, after the file they are in (when there is one)."""
    problems = "; ".join(_problem(e, model) for e in exc.errors())
    return AlertSettingsError(f"{where}: {problems}" if where else problems)


def _problem(error: ErrorDetails, model: type[BaseModel]) -> str:
    loc = error["loc"]
    message = error["msg"].removeprefix("Value error, ")
    if not loc:
        return message
    key, parent = _walk(model, loc)
    if error["type"] == "extra_forbidden":
        known = _keys(parent)
        hint = suggestion(str(loc[-1]), known) or (f"; allowed: {', '.join(known)}" if known else "")
        return f"{key}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{key}: missing (required)"
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        expected = error.get("ctx", {}).get("expected_tags", "")
        tags = [t.strip(" '") for t in expected.split(",")] if expected else _tags(parent)
        tag = error.get("ctx", {}).get("tag")
        if tag is None:
            return f"{key}.type: missing; one of {', '.join(tags)}"
        return f"{key}.type = {_shown(tag)}: must be one of {', '.join(tags)}{suggestion(str(tag), tags)}"
    value = "***" if "password" in key else _shown(error["input"])
    return f"{key} = {value}: {message[0].lower()}{message[1:]}"


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def _walk(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, Any]:
    """The key as the user writes it (`routes[0].channels`, no union tags), and the type that
    holds its last part (for the keys allowed beside it)."""
    key = ""
    annotation: Any = model
    for part in loc[:-1]:
        annotation = _unwrap(annotation)
        options = _members(annotation)
        if options and str(part) in _tags(annotation):  # pydantic names the union member it tried
            annotation = options[_tags(annotation).index(str(part))]
            continue
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
        annotation = _child(annotation, part)
    last = loc[-1]
    key += f"[{last}]" if isinstance(last, int) else f".{last}" if key else str(last)
    return key, _unwrap(annotation)


def _child(annotation: Any, part: int | str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
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


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Union or isinstance(annotation, types.UnionType):
        return get_args(annotation)
    return ()


def _members(annotation: Any) -> list[type[BaseModel]]:
    return [a for a in _union_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def _tags(annotation: Any) -> list[str]:
    tags = []
    for member in _members(annotation):
        field = member.model_fields.get("type")
        if field is not None and get_origin(field.annotation) is Literal:
            tags.append(str(get_args(field.annotation)[0]))
    return tags


def _keys(annotation: Any) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []
