"""Declarative settings.

Every knob of nums is one :class:`Setting`: a name, the environment variable that can set it,
a default, a separate *test default* (tiny blocks, so that small test arrays still split into
many blocks), a converter and help text. Values are resolved once, when a session starts, in
this order: explicit argument to ``nums.init`` > environment variable > test default (when
``NUMS_TESTING`` is true) > default. Nothing here is a mutable module global: the resolved
values live on the session's :class:`Settings` object.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Setting", "Settings", "SETTINGS", "resolve_settings", "positive_int",
           "positive_shape", "integer_tuple"]


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int of at least ``minimum``, checked the way NumPy checks a size.

    Python ints, NumPy integers and other objects with ``__index__`` are accepted; booleans,
    floats, strings and anything else raise TypeError, values below ``minimum`` ValueError.
    Both messages name ``name`` (the argument or environment variable).
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r} "
                        f"({type(value).__name__})") from None
    if number < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {number}")
    return number


def integer_tuple(value: Any, name: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ints) as a tuple of ints, nothing else checked.

    Python ints, NumPy integers and anything with ``__index__`` (a 0-d integer array is one
    entry); floats, booleans, strings and other types raise TypeError naming ``name``, as
    NumPy does for a float size.
    """
    if isinstance(value, (bool, np.bool_, str, bytes)) or not (
            hasattr(value, "__iter__") or hasattr(value, "__index__")):
        raise TypeError(f"{name} must be an integer or a tuple of integers, got {value!r} "
                        f"({type(value).__name__})")
    # A 0-d NumPy array is one entry (it has __iter__ but cannot be iterated).
    one = not hasattr(value, "__iter__") or getattr(value, "ndim", None) == 0
    values: list[int] = []
    for n in (value,) if one else tuple(value):
        try:
            if isinstance(n, (bool, np.bool_)):
                raise TypeError
            values.append(operator.index(n))  # a float 0-d array has __index__ but raises
        except TypeError:
            raise TypeError(f"{name} entries must be integers, got {value!r} "
                            f"(an entry is {type(n).__name__}: {n!r})") from None
    return tuple(values)


def positive_shape(value: Any, name: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ints) as a non-empty tuple of positive ints.

    TypeError for a value that is not an int or a sequence of ints (floats and booleans
    included), ValueError for an empty tuple or an entry below 1; both messages name ``name``.
    """
    shape = integer_tuple(value, name)
    if not shape:
        raise ValueError(f"{name} must have at least one axis, got {value!r}")
    if any(n < 1 for n in shape):
        raise ValueError(f"{name} must be a tuple of positive integers, got {shape}")
    return shape


# Converters: they read an explicit value or an environment variable's text and raise
# TypeError / ValueError with a message that starts with what the value must be;
# resolve_settings puts the argument's or the variable's name in front.

class _Invalid(Exception):
    """A converter's complaint (``kind`` is TypeError or ValueError)."""

    def __init__(self, kind: type[Exception], message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise _Invalid(ValueError, f"must be a boolean (1/0, true/false, yes/no, on/off), "
                                   f"got {value!r}")
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer))
                                               and value in (0, 1)):
        return bool(value)
    raise _Invalid(TypeError, f"must be a boolean, got {value!r} ({type(value).__name__})")


def _to_optional_bool(value: Any) -> bool | None:
    if value is None:
        return None
    return _to_bool(value)


def _to_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(TypeError, f"must be a string, got {value!r} ({type(value).__name__})")
    if not value.strip():
        raise _Invalid(ValueError, "must not be empty")
    return value.strip()


def _integer(minimum: int = 1, optional: bool = False) -> Callable[[Any], Any]:
    """A converter to an int of at least ``minimum`` (None allowed with ``optional``); text
    (an environment variable) must spell such an int, other strings are the wrong type."""

    def convert(value: Any) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, _Text):
            try:
                value = int(value.strip())
            except ValueError:
                what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
                raise _Invalid(ValueError, f"must be {what}, got {str(value)!r}") from None
        try:
            return positive_int(value, "", minimum)
        except (TypeError, ValueError) as exc:
            raise _Invalid(type(exc), str(exc).lstrip()) from None

    return convert


_BYTE_UNITS = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "B": 1}


def _to_bytes(value: Any) -> int:
    """Read a byte count: a positive int, or a string like ``"64MB"``, ``"4KiB"``, ``"512"``."""
    if isinstance(value, str):
        text = value.strip().upper().replace("IB", "B")
        factor = 1
        for suffix, unit in _BYTE_UNITS.items():
            if text.endswith(suffix):
                text, factor = text[: -len(suffix)], unit
                break
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or int(number * factor) < 1:
            raise _Invalid(ValueError, f"must be a positive number of bytes (an int, or a "
                                       f"string like '32MB'), got {str(value)!r}")
        return int(number * factor)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise _Invalid(TypeError, f"must be an int number of bytes or a string like '32MB', "
                                  f"got {value!r} ({type(value).__name__})")
    if value < 1:
        raise _Invalid(ValueError, f"must be a positive number of bytes, got {int(value)}")
    return int(value)


class _Text(str):
    """The text of an environment variable (explicit strings are not numbers)."""


@dataclass(frozen=True)
class Setting:
    """One configurable value of nums."""

    name: str
    env: str
    default: Any
    test_default: Any
    convert: Callable[[Any], Any]
    help: str


SETTINGS: Mapping[str, Setting] = {
    s.name: s
    for s in (
        Setting("backend", "NUMS_BACKEND", "local", "local", _to_name,
                "Executor to run blocks on: one of the registered backends."),
        Setting("workers", "NUMS_WORKERS", None, None, _integer(optional=True),
                "Local backend worker threads; None means one per core, 1 is serial."),
        Setting("block_size", "NUMS_BLOCK_SIZE", 32 * 2**20, 512, _to_bytes,
                "Target bytes per block when a creation call gives no block_shape."),
        Setting("reduction_fanin", "NUMS_REDUCTION_FANIN", 8, 2, _integer(2),
                "How many partial results one combine step of a tree reduction takes."),
        Setting("tile_elements", "NUMS_TILE_ELEMENTS", 65536, 64, _integer(),
                "Elements per tile when a fused kernel walks a block (cache-sized)."),
        Setting("max_fused_ops", "NUMS_MAX_FUSED_OPS", 64, 64, _integer(),
                "Longest elementwise chain fused into one kernel before it is computed."),
        Setting("blas_threads", "NUMS_BLAS_THREADS", None, None, _integer(optional=True),
                "BLAS threads per worker; None picks cores // workers."),
        Setting("placement", "NUMS_PLACEMENT", "greedy", "greedy", _to_name,
                "Where block ops run: 'greedy' (minimise peak memory + traffic) or 'cyclic'."),
        Setting("progress", "NUMS_PROGRESS", None, False, _to_optional_bool,
                "Progress bar for long get()s (Ray); None: only in interactive terminals."),
        Setting("testing", "NUMS_TESTING", False, True, _to_bool,
                "Use the test defaults (tiny blocks) for every setting."),
    )
}


class Settings:
    """The resolved values of all settings of one session (read-only attributes)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("settings are read-only; pass them to nums.init()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("settings are read-only; pass them to nums.init()")

    def as_dict(self) -> dict[str, Any]:
        """Return a copy of every resolved value, keyed by setting name."""
        return dict(vars(self))

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Settings({body})"


def resolve_settings(explicit: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting: explicit > environment > test default > default.

    Every value is checked (see the converters above): an explicit value of the wrong type
    raises TypeError naming the argument, a bad value ValueError; a bad environment variable
    raises ValueError naming the variable. An empty environment variable counts as unset.

    Parameters
    ----------
    explicit : mapping, optional
        Values given to ``nums.init``; entries whose value is None are ignored.
    environ : mapping, optional
        Environment to read; ``os.environ`` when omitted.

    Returns
    -------
    Settings
    """
    explicit = {k: v for k, v in (explicit or {}).items() if v is not None}
    unknown = set(explicit) - set(SETTINGS)
    if unknown:
        raise TypeError(f"unknown nums setting(s): {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(SETTINGS)}")
    environ = os.environ if environ is None else environ
    testing = _resolve(SETTINGS["testing"], explicit, environ, SETTINGS["testing"].default)
    return Settings({name: _resolve(setting, explicit, environ,
                                    setting.test_default if testing else setting.default)
                     for name, setting in SETTINGS.items()})


def _resolve(setting: Setting, explicit: Mapping[str, Any], environ: Mapping[str, str],
             default: Any) -> Any:
    """One setting's value: explicit > environment variable > ``default``, converted."""
    name = setting.name
    if name in explicit:
        raw, label = explicit[name], name
    elif str(environ.get(setting.env, "")).strip():
        raw, label = _Text(environ[setting.env]), f"the environment variable {setting.env}"
    else:
        raw, label = default, name
    try:
        return setting.convert(raw)
    except _Invalid as exc:
        if isinstance(raw, _Text):  # the variable's text is wrong, whatever the complaint
            raise ValueError(f"{label} {exc}") from None
        raise exc.kind(f"{label} {exc}") from None
