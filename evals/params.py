"""Typed task parameters: each task's are one frozen dataclass (`TaskParams`) in the task's folder.

They are recorded in the results (`provenance.protocol`, `to_dict`) and, less the fields marked evaluation-only
(`evaluation_only`), fingerprint the stored predictions (`prediction_dict`). Only parameters belong here: a task's
descriptions of its protocol (sources, notes, formats) are its `Task.protocol_notes()`, recorded beside them and
never fingerprinted, so rewording a note keeps every stored prediction. A group of parameters inside a task's (the
automatic mask generator's arguments, a tracker's settings) is a frozen `Params` dataclass of its own: it is recorded
as a nested dict, read back by `from_dict` and handed to the code that uses it by `to_dict`.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

from .errors import UsageError

P = TypeVar("P", bound="Params")

EVALUATION_ONLY = "evaluation_only"


def evaluation_only(default: Any) -> Any:
    """A field that only changes how predictions are scored: stored predictions stay valid when it changes."""
    return dataclasses.field(default=default, metadata={EVALUATION_ONLY: True})


def _json(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists): what is compared with a stored manifest."""
    return json.loads(json.dumps(value))


@dataclasses.dataclass(frozen=True)
class Params:
    """A frozen dataclass of parameters: recorded as JSON values (`to_dict`), read back from a record (`from_dict`),
    changed by name (`replace`: a name that is not a field is an error, never dropped)."""

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON values (tuples become lists): what a record holds, and the keyword arguments of the
        call the parameters are for (`model.generate(image, **amg.to_dict())`)."""
        return _json(dataclasses.asdict(self))

    def replace(self: P, **changes: Any) -> P:
        """A copy with `changes`; a name that is not a field is a UsageError naming it and the fields (the command
        line: exit status 2)."""
        fields = [f.name for f in dataclasses.fields(self)]
        unknown = [name for name in changes if name not in fields]
        if unknown:
            raise UsageError(f"{type(self).__name__}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(map(repr, unknown))}; allowed: {', '.join(fields)}")  # fmt: skip
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls: type[P], recorded: dict[str, Any]) -> P:
        """The parameters a results JSON records (`to_dict`). Keys this version does not know (prose that results of
        older versions recorded with the parameters, renamed options) are ignored; a field without a default that
        the record lacks is an error naming it."""
        return _build(cls, recorded)


@dataclasses.dataclass(frozen=True)
class FileIdentity(Params):
    """An input file a run's predictions depend on, as its parameters record it: where it was and its sha256 (None:
    missing when the run was set up; the run's requirements then name it)."""

    file: str
    sha256: str | None


@dataclasses.dataclass(frozen=True)
class TaskParams(Params):
    """The base of every task's parameters (a task without options uses it as it is)."""

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON values. A field left at its default None (one of another mode: a --predictions run's
        folder in a run that prompts a model) is not written: the record shows the run's own parameters, and a new
        optional field keeps the stored predictions of runs without it."""
        everything = _json(dataclasses.asdict(self))
        return {f.name: everything[f.name] for f in dataclasses.fields(self)
                if not (f.default is None and everything[f.name] is None)}  # fmt: skip

    def prediction_dict(self) -> dict[str, Any]:
        """The parameters that shape predictions: every field not marked `evaluation_only`."""
        scoring_only = {f.name for f in dataclasses.fields(self) if f.metadata.get(EVALUATION_ONLY)}
        return {name: value for name, value in self.to_dict().items() if name not in scoring_only}


def _build(cls: type, recorded: dict[str, Any]) -> Any:
    if not isinstance(recorded, dict):
        raise ValueError(f"{cls.__name__}: expected a dict of parameters, got {type(recorded).__name__}")
    hints = typing.get_type_hints(cls)
    values, missing = {}, []
    for f in dataclasses.fields(cls):
        if f.name in recorded:
            values[f.name] = _convert(hints[f.name], recorded[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            missing.append(f.name)
    if missing:
        raise ValueError(f"{cls.__name__}: the recorded parameters lack {', '.join(missing)}")
    return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    """A JSON value back in its field's type: nested dataclasses rebuilt (by their own `from_dict` where they are
    `Params`), in a typed dict's values too, lists made tuples where a tuple is typed."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        candidates = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _convert(candidates[0], value) if len(candidates) == 1 else value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return hint.from_dict(value) if issubclass(hint, Params) else _build(hint, value)
    if origin is dict and isinstance(value, dict):
        item = typing.get_args(hint)[1] if typing.get_args(hint) else Any
        return {key: _convert(item, v) for key, v in value.items()}
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return tuple(_convert(item, v) if item is not None else v for v in value)
    return value
