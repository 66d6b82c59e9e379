"""Settings, declared once.

A model declares its hyperparameters next to its constructor (``SETTINGS`` in its class; the
constructor's signature gives each one's default for that model), and a run's own settings (epochs,
batch, learning rate, schedule, precision, corruption, ...) are the fields of
:class:`vae_demo.training.TrainConfig`. Everything else is derived from these declarations: the
training CLI's flags, the command that reproduces a checkpoint, the default checkpoint name, the
config's checks and the Train tab's controls. A new hyperparameter is one ``Setting`` line.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

KINDS = ("float", "int", "bool", "choice", "ints", "text")


@dataclass(frozen=True)
class Setting:
    """One setting: its name (``beta``; the CLI flag is ``--beta``), its kind, what it does (``help``: the
    CLI's help and the Train tab's info line), its checks (``choices``; ``lo``..``hi`` for numbers; ``parse``
    a function giving the canonical value or raising ValueError) and how it shows:

    - ``label``: the Train tab's label; ``slider``: (lo, hi, step) of its slider there (numbers);
      ``ui=False``: not a Train tab control (the CLI still has it).
    - ``tag``: its part of the default checkpoint name when not at its default: a format for the value
      (``"b{:g}"`` gives ``_b4``) or, for a switch, a word (``"mask"``).
    """

    name: str
    kind: str
    help: str
    default: Any = None
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None
    parse: Callable[[Any], Any] | None = None
    label: str = ""
    slider: tuple[float, float, float] | None = None
    ui: bool = True
    tag: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"setting {self.name}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ")

    def with_default(self, default) -> Setting:
        return replace(self, default=self.check(default) if default is not None else self._empty())

    def _empty(self):
        return () if self.kind == "ints" else None

    # --- values ---
    def check(self, value):
        """``value`` (from the CLI, the UI or Python) as this setting's canonical value, or ValueError
        saying what is allowed."""
        what = self.title
        if self.kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"{what}: expected true or false, got {value!r}")
                value = value.lower() in ("true", "1", "yes")
            out = bool(value)
        elif self.kind in ("int", "float"):
            try:
                num = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{what}: expected a number, got {value!r}") from None
            if not math.isfinite(num):
                raise ValueError(f"{what} must be a finite number, got {value}")
            if self.kind == "int" and num != int(num):
                raise ValueError(f"{what} must be a whole number, got {value}")
            out = int(num) if self.kind == "int" else num
            lo = -math.inf if self.lo is None else self.lo
            hi = math.inf if self.hi is None else self.hi
            if not lo <= out <= hi:
                raise ValueError(f"{what} must be in {_num(lo)}..{_num(hi)}, got {_num(out)}")
        elif self.kind == "ints":
            if value is None:
                value = ()
            if isinstance(value, str):
                try:
                    value = [int(v) for v in value.replace(" ", "").split(",") if v]
                except ValueError:
                    raise ValueError(f"{what}: expected comma-separated whole numbers, got {value!r}") from None
            out = tuple(int(v) for v in value)
            if self.hi is not None and any(not (self.lo or 1) <= v <= self.hi for v in out):
                raise ValueError(f"{what}: values must be in {_num(self.lo or 1)}..{_num(self.hi)}, got {out}")
        else:
            out = str(value)
        if self.choices and out not in self.choices:
            raise ValueError(f"{what} must be one of {', '.join(map(str, self.choices))}, got {out!r}")
        return self.parse(out) if self.parse is not None else out

    def text(self, value) -> str:
        """``value`` as the CLI writes it."""
        if self.kind == "ints":
            return ",".join(str(v) for v in value)
        if self.kind == "float":
            return f"{value:g}"
        return str(value)

    def name_tag(self, value) -> str:
        """This setting's part of a default checkpoint name ('' at its default)."""
        if not self.tag or value == self.default:
            return ""
        if self.kind == "bool":
            return self.tag if value else ""
        return self.tag.format(value)

    # --- the CLI ---
    def add_argument(self, parser, default=None, help: str | None = None) -> None:
        """This setting as a flag of ``parser``. ``default=None`` leaves it unset unless given (a model's
        setting: its default is the model's)."""
        kw: dict = {"dest": self.name, "default": default, "help": help or self.help}
        if self.kind == "bool":
            kw["action"] = "store_true" if default is not None else _TrueOnce
            if default is None:
                kw["nargs"] = 0
        else:
            kw["type"] = self._argparse_type()
            if self.choices:
                kw["choices"] = list(self.choices)
            if self.kind == "ints":
                kw["metavar"] = "N,N,..."
        parser.add_argument(self.flag, **kw)

    def _argparse_type(self):
        """Text to a value of this kind (the checks of range and meaning come later, from ``check``, so the
        CLI reports them in one line with the rest)."""
        def conv(text):
            try:
                return replace(self, lo=None, hi=None, parse=None, choices=()).check(text)
            except ValueError as err:
                raise argparse.ArgumentTypeError(str(err)) from None

        conv.__name__ = self.kind
        return conv


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


class _TrueOnce(argparse.Action):
    """A switch whose value stays None unless given (so "not given" and "given" differ)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)


def collect(cls, signature_params) -> dict[str, Setting]:
    """The settings a class declares (``SETTINGS`` along its bases, a subclass's declaration of a name
    replacing its base's; names in ``FIXED`` dropped), restricted to its constructor's parameters, each
    with the constructor's default."""
    declared: dict[str, Setting] = {}
    fixed: set[str] = set()
    for klass in reversed(cls.__mro__):
        for s in vars(klass).get("SETTINGS", ()):
            declared[s.name] = s
        fixed |= set(vars(klass).get("FIXED", ()))
    out = {}
    for name, s in declared.items():
        if name in signature_params and name not in fixed:
            default = signature_params[name].default
            out[name] = s.with_default(None if default is signature_params[name].empty else default)
    return out
