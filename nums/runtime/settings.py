"""Declarative settings.

Every knob of nums is one :class:`Setting`: a name, the environment variable that can set it,
a default, a separate *test default* (tiny blocks, so that small test arrays still split into
many blocks), a converter and help text. Values are resolved once, when a session starts, in
this order: explicit argument to ``nums.init`` > environment variable > test default (when
``NUMS_TESTING`` is true) > default. Nothing here is a mutable module global: the resolved
values live on the session's :class:`Settings` object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Setting", "Settings", "SETTINGS", "resolve_settings"]


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"cannot read {value!r} as a boolean")
    return bool(value)


def _to_optional_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _to_optional_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return _to_bool(value)


def _to_bytes(value: Any) -> int | None:
    """Read a byte count: an int, or a string like ``"64MB"``, ``"4KiB"``."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().upper().replace("IB", "B")
    units = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "B": 1}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


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
        Setting("backend", "NUMS_BACKEND", "local", "local", str,
                "Executor to run blocks on: one of the registered backends."),
        Setting("workers", "NUMS_WORKERS", None, None, _to_optional_int,
                "Local backend worker threads; None means one per core, 1 is serial."),
        Setting("block_size", "NUMS_BLOCK_SIZE", 32 * 2**20, 512, _to_bytes,
                "Target bytes per block when a creation call gives no block_shape."),
        Setting("reduction_fanin", "NUMS_REDUCTION_FANIN", 8, 2, int,
                "How many partial results one combine step of a tree reduction takes."),
        Setting("tile_elements", "NUMS_TILE_ELEMENTS", 65536, 64, int,
                "Elements per tile when a fused kernel walks a block (cache-sized)."),
        Setting("max_fused_ops", "NUMS_MAX_FUSED_OPS", 64, 64, int,
                "Longest elementwise chain fused into one kernel before it is computed."),
        Setting("blas_threads", "NUMS_BLAS_THREADS", None, None, _to_optional_int,
                "BLAS threads per worker; None picks cores // workers."),
        Setting("placement", "NUMS_PLACEMENT", "greedy", "greedy", str,
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
    testing_setting = SETTINGS["testing"]
    testing = testing_setting.convert(
        explicit.get("testing", environ.get(testing_setting.env, testing_setting.default)))
    values: dict[str, Any] = {}
    for name, setting in SETTINGS.items():
        if name in explicit:
            raw = explicit[name]
        elif setting.env in environ:
            raw = environ[setting.env]
        else:
            raw = setting.test_default if testing else setting.default
        values[name] = setting.convert(raw)
    return Settings(values)
