"""Typed TOML: a table validated into a frozen dataclass by field name, type, choices and bounds.

Fields are declared with :func:`spec`, which carries the help text and limits; :func:`build_dataclass`
checks a raw table against them and names the key, the problem and the accepted values (with a
"did you mean" for a misspelt key or choice). Knows nothing of recipes: :mod:`zoo.config` builds on it.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import field

from zoo.errors import RecipeError


def spec(default, *, help: str = "", choices=None, min=None, max=None):
    """A dataclass field with the documentation and bounds the validator checks."""
    meta = {"help": help, "choices": choices, "min": min, "max": max}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for a sequence default")
    return field(default=default, metadata=meta)


def plain(obj) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = plain(value)
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        out[f.name] = value
    return out


def type_name(tp, plural: bool = False) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {type_name(args[0], plural=True)}"
        return f"a list of {len(args)} " + "/".join(sorted({type_name(a, plural=True) for a in args}))
    names = {int: ("an integer", "integers"), float: ("a number", "numbers"), bool: ("true or false", "booleans"),
             str: ("a string", "strings")}
    return names[tp][plural] if tp in names else str(tp)


def coerce(value, tp, where: str):
    """Check ``value`` against type ``tp``; return it converted (lists to tuples, ints to floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return coerce(value, arg, where)
            except RecipeError:
                pass
        raise RecipeError(f"{where} must be one of {typing.get_args(tp)}, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise RecipeError(f"{where} must be {type_name(tp)}, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise RecipeError(f"{where} must be {type_name(tp)}, got {len(value)} values: {value!r}")
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RecipeError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise RecipeError(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported recipe field type {tp!r} at {where}")


def unknown_key(key: str, accepted, where: str) -> RecipeError:
    close = difflib.get_close_matches(key, list(accepted), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return RecipeError(f"unknown key '{key}' in {where}{hint} Accepted keys: {', '.join(accepted)}")


def build_dataclass(cls, raw: dict, where: str):
    """Validate ``raw`` (a TOML table) into ``cls``: names, types, choices and bounds."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{where} must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise unknown_key(key, fields, where)
        meta = fields[key].metadata
        label = f"'{key}' in {where}"
        if dataclasses.is_dataclass(hints[key]):  # a sub-table: [data] -> [data.domain_a]
            table = where.replace("]", f".{key}]", 1) if where.startswith("[") else f"[{key}] in {where}"
            values[key] = build_dataclass(hints[key], value, table)
            continue
        value = coerce(value, hints[key], label)
        choices = meta.get("choices")
        if choices is not None:
            items = value if (isinstance(value, tuple) and choices and not isinstance(choices[0], tuple)) else (value,)
            for item in items:
                if item not in choices:
                    shown = ", ".join(repr(list(c) if isinstance(c, tuple) else c) for c in choices)
                    close = difflib.get_close_matches(str(item), [str(c) for c in choices], n=1)
                    hint = f"; did you mean {close[0]!r}?" if close and close[0] != str(item) else "."
                    raise RecipeError(f"{label} is {item!r}{hint} Accepted values: {shown}")
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if meta.get("min") is not None and item < meta["min"]:
                    raise RecipeError(f"{label} is {item}, below its minimum {meta['min']}")
                if meta.get("max") is not None and item > meta["max"]:
                    raise RecipeError(f"{label} is {item}, above its maximum {meta['max']}")
        values[key] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a family's __post_init__ cross-checks
        raise RecipeError(f"{where}: {exc}") from None


def deepcopy(raw):
    if isinstance(raw, dict):
        return {k: deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [deepcopy(v) for v in raw]
    return raw
