"""Conditions of row rules (``when:`` and ``check:``): the one place that knows their tests.

A ``Condition`` is parsed from the mapping file when it is loaded, so a test that does not exist
is a problem naming the file, line and key before anything runs; the same model then evaluates
the condition on mapped rows (``Condition.predicate``). A condition maps target columns to a
test, and every column's test must hold:

- a scalar: the value, as text, equals the scalar's text (``"9"`` and ``9`` both match ``"9"``);
- ``null``: the value is NULL;
- ``{in: [..]}`` / ``{not_in: [..]}``: the value's text is / is not one of the list's (a ``null``
  in the list stands for NULL; a single value is a list of one);
- ``{not: v}``: the value's text is not ``v``'s, NULL included; ``{not: null}``: the value is not NULL;
- ``{gt|ge|lt|le: n}``: the value is a number that compares so with ``n`` (NULL and text that is
  not a number fail).

Several tests under one column (``{ge: 1, le: 5}``) must all hold.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

#: whether one mapped value passes a test
Predicate = Callable[[Any], bool]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Clause(_Frozen):
    """One part of a column's test."""

    def predicate(self) -> Predicate:
        raise NotImplementedError


class Equals(Clause):
    """A scalar test: the value's text equals ``text``; NULL equals nothing."""

    text: str

    def predicate(self) -> Predicate:
        text = self.text
        return lambda v: v is not None and str(v) == text


class IsNull(Clause):
    """``null`` (the value is NULL) or, negated, ``{not: null}``."""

    negated: bool = False

    def predicate(self) -> Predicate:
        if self.negated:
            return lambda v: v is not None
        return lambda v: v is None


class OneOf(Clause):
    """``in`` or, negated, ``not_in``."""

    texts: frozenset[str]
    null: bool = False           # the list holds a null: NULL is one of them
    negated: bool = False

    def predicate(self) -> Predicate:
        texts, null, negated = self.texts, self.null, self.negated

        def member(v: Any) -> bool:
            return null if v is None else str(v) in texts
        if negated:
            return lambda v: not member(v)
        return member


class Differs(Clause):
    """``{not: v}``: NULL differs from every value."""

    text: str

    def predicate(self) -> Predicate:
        text = self.text
        return lambda v: v is None or str(v) != text


_COMPARISONS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}


class Compare(Clause):
    """``{gt|ge|lt|le: n}``, compared as decimals so that ``0.1`` means 0.1."""

    op: str
    number: Decimal

    def predicate(self) -> Predicate:
        compare, number = _COMPARISONS[self.op], self.number

        def holds(v: Any) -> bool:
            if v is None:
                return False
            try:
                return compare(Decimal(str(v)), number)
            except InvalidOperation:   # not a number, or NaN, which compares with nothing
                return False
        return holds


def _listed(op: str, arg: Any) -> list[Any]:
    if isinstance(arg, Mapping):
        raise ValueError(f"'{op}' needs a list of values")
    return list(arg) if isinstance(arg, (list, tuple)) else [arg]


def _one_of(negated: bool, op: str, arg: Any) -> Clause:
    items = _listed(op, arg)
    return OneOf(texts=frozenset(str(a) for a in items if a is not None),
                 null=any(a is None for a in items), negated=negated)


def _differs(op: str, arg: Any) -> Clause:
    if arg is None:
        return IsNull(negated=True)
    if isinstance(arg, (Mapping, list, tuple)):
        raise ValueError(f"'{op}' needs one value (or null)")
    return Differs(text=str(arg))


def _compare(op: str, arg: Any) -> Clause:
    try:
        number = None if isinstance(arg, bool) or arg is None else Decimal(str(arg).strip())
    except InvalidOperation:
        number = None
    if number is None or number.is_nan():
        raise ValueError(f"'{op}' needs a number, not {arg!r}")
    return Compare(op=op, number=number)


#: every operator a test may use, as the mapping file spells it, and how its argument is read
_OPERATORS: dict[str, Callable[[str, Any], Clause]] = {
    "in": functools.partial(_one_of, False),
    "not_in": functools.partial(_one_of, True),
    "not": _differs,
    **{name: _compare for name in _COMPARISONS},
}
OPERATORS: tuple[str, ...] = tuple(_OPERATORS)


class ColumnTest(_Frozen):
    """One column of a condition and the clauses its value must pass."""

    column: str
    clauses: tuple[Clause, ...]
    spelling: str                # the test as the mapping file wrote it, for messages

    @classmethod
    def parse(cls, column: str, test: Any) -> ColumnTest:
        """The test as written in the file; ValueError says what is wrong with it."""
        if test is None:
            return cls(column=column, clauses=(IsNull(),), spelling="is NULL")
        if isinstance(test, (list, tuple)):
            raise ValueError(f"the test of {column!r} is a list; write {{in: [...]}} to test for one of several values")
        if not isinstance(test, Mapping):
            return cls(column=column, clauses=(Equals(text=str(test)),), spelling=str(test))
        clauses = tuple(_OPERATORS[str(op)](str(op), arg) for op, arg in test.items())
        return cls(column=column, clauses=clauses, spelling=str(dict(test)))

    def predicate(self) -> Predicate:
        parts = tuple(c.predicate() for c in self.clauses)
        if len(parts) == 1:
            return parts[0]
        return lambda v: all(p(v) for p in parts)


def _unknown_operators(data: Mapping[Any, Any]) -> list[str]:
    return sorted({str(op) for test in data.values() if isinstance(test, Mapping)
                   for op in test if op not in _OPERATORS})


class Condition(_Frozen):
    """``when:`` or ``check:`` of a rule. Built from the file's spelling: ``Condition.model_validate({...})``."""

    tests: tuple[ColumnTest, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, Condition):
            return data
        if not isinstance(data, Mapping):
            raise ValueError("a condition maps column names to tests, e.g. {danger_state: \"9\"}")
        unknown = _unknown_operators(data)
        if unknown:
            raise ValueError(f"unknown test {unknown}; use one of {sorted(OPERATORS)}")
        return {"tests": tuple(ColumnTest.parse(str(column), test) for column, test in data.items())}

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(t.column for t in self.tests)

    def describe(self) -> str:
        return ", ".join(f"{t.column} {t.spelling}" for t in self.tests)

    def predicate(self, positions: Mapping[str, int]) -> Callable[[Sequence[Any]], bool]:
        """Whether a mapped row (values in ``positions`` order) meets the condition."""
        parts = tuple((positions[t.column], t.predicate()) for t in self.tests)
        if len(parts) == 1:
            ((index, test),) = parts
            return lambda row: test(row[index])
        return lambda row: all(test(row[index]) for index, test in parts)
