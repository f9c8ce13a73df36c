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
  not a number fail);
- ``{gt|ge|lt|le: {column: other}}``: the value compares so with the mapped value of column
  ``other``: both numbers, both dates/times, or both times of day (NULL on either side, or two
  values of different sorts, fail);
- ``{matches: REGEX}``: the value's text contains a match of the regular expression (NULL fails).

Several tests under one column (``{ge: 1, le: 5}``) must all hold.

A rule's ``matches: {column: REGEX}`` (``Condition.patterns``) is a condition of ``matches``
tests that a NULL passes: it checks the form of the values that are there.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from syncd.i18n import _

#: whether one mapped value passes a test
Predicate = Callable[[Any], bool]
#: whether a mapped row (its values in the mapping's column order) passes a test
RowPredicate = Callable[[Sequence[Any]], bool]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Clause(_Frozen):
    """One part of a column's test."""

    def predicate(self) -> Predicate:
        raise NotImplementedError

    @property
    def references(self) -> tuple[str, ...]:
        """Other columns the test compares with."""
        return ()

    def row_predicate(self, index: int, positions: Mapping[str, int]) -> RowPredicate:
        """The test on a whole mapped row, the tested column being at ``index``."""
        test = self.predicate()
        return lambda row: test(row[index])


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
            except (InvalidOperation, ValueError):   # not a number, or NaN, which compares with nothing
                return False
        return holds


class CompareColumn(Clause):
    """``{gt|ge|lt|le: {column: other}}``: compared with another mapped column of the same row."""

    op: str
    column: str

    @property
    def references(self) -> tuple[str, ...]:
        return (self.column,)

    def predicate(self) -> Predicate:
        raise TypeError("a comparison with another column tests a whole row: use row_predicate")

    def row_predicate(self, index: int, positions: Mapping[str, int]) -> RowPredicate:
        compare, other = _COMPARISONS[self.op], positions[self.column]

        def holds(row: Sequence[Any]) -> bool:
            left, right = ordered(row[index]), ordered(row[other])
            if left is None or right is None or left[0] != right[0]:
                return False
            try:
                return compare(left[1], right[1])
            except TypeError:          # a time with a zone and one without: no order between them
                return False
        return holds


def ordered(value: Any) -> tuple[str, Any] | None:
    """A value as (its sort, something that orders): a number (as a Decimal), a moment (a date
    counts as its midnight), or a time of day; text is read as one of them. None: no order."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return "moment", value
    if isinstance(value, date):
        return "moment", datetime(value.year, value.month, value.day)
    if isinstance(value, time):
        return "time", value
    if isinstance(value, (int, float, Decimal)):
        return _number(str(value))
    if isinstance(value, str):
        return _number(value) or _moment(value)
    return None


def _number(text: str) -> tuple[str, Any] | None:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return None if number.is_nan() else ("number", number)


def _moment(text: str) -> tuple[str, Any] | None:
    try:
        return "moment", datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        return "time", time.fromisoformat(text.strip())
    except ValueError:
        return None


class Matches(Clause):
    """``{matches: REGEX}``: the value's text contains a match. ``null``: a NULL passes (a rule's
    ``matches:``, which checks the form of the values that are there)."""

    pattern: str
    null: bool = False

    def predicate(self) -> Predicate:
        search, null = re.compile(self.pattern).search, self.null

        def holds(v: Any) -> bool:
            if v is None:
                return null
            return search(v if isinstance(v, str) else str(v)) is not None
        return holds


def _listed(op: str, arg: Any) -> list[Any]:
    if isinstance(arg, Mapping):
        raise ValueError(_("'{op}' needs a list of values").format(op=op))
    return list(arg) if isinstance(arg, (list, tuple)) else [arg]


def _one_of(negated: bool, op: str, arg: Any) -> Clause:
    items = _listed(op, arg)
    return OneOf(texts=frozenset(str(a) for a in items if a is not None),
                 null=any(a is None for a in items), negated=negated)


def _differs(op: str, arg: Any) -> Clause:
    if arg is None:
        return IsNull(negated=True)
    if isinstance(arg, (Mapping, list, tuple)):
        raise ValueError(_("'{op}' needs one value (or null)").format(op=op))
    return Differs(text=str(arg))


def _compare(op: str, arg: Any) -> Clause:
    if isinstance(arg, Mapping):
        if set(arg) != {"column"} or not isinstance(arg["column"], str) or not arg["column"]:
            raise ValueError(_("'{op}' compares with a number, or with another column as {{column: NAME}}; not "
                               "{given!r}").format(op=op, given=dict(arg)))
        return CompareColumn(op=op, column=arg["column"])
    try:
        number = None if isinstance(arg, bool) or arg is None else Decimal(str(arg).strip())
    except InvalidOperation:
        number = None
    if number is None or number.is_nan():
        raise ValueError(_("'{op}' needs a number, not {arg!r}; to compare with another column, write {{{op}: "
                           "{{column: NAME}}}}").format(op=op, arg=arg))
    return Compare(op=op, number=number)


def compiled_pattern(text: Any, what: str) -> str:
    """``text`` if it is a regular expression that compiles; else ValueError saying why."""
    if not isinstance(text, str):
        raise ValueError(_("{what} needs a regular expression in quotes, not {text!r}").format(what=what, text=text))
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(_("{what}: {text!r} is not a valid regular expression ({exc}); write it in single quotes, "
                           "with a backslash before ( ) [ ] . * + ? "
                           "that stand for themselves").format(what=what, text=text, exc=exc)) from None
    return text


def _matches(op: str, arg: Any) -> Clause:
    return Matches(pattern=compiled_pattern(arg, f"'{op}'"))


#: every operator a test may use, as the mapping file spells it, and how its argument is read
_OPERATORS: dict[str, Callable[[str, Any], Clause]] = {
    "in": functools.partial(_one_of, False),
    "not_in": functools.partial(_one_of, True),
    "not": _differs,
    **{name: _compare for name in _COMPARISONS},
    "matches": _matches,
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
            raise ValueError(_("the test of {column!r} is a list; write {{in: [...]}} to test for one of several "
                               "values").format(column=column))
        if not isinstance(test, Mapping):
            return cls(column=column, clauses=(Equals(text=str(test)),), spelling=str(test))
        clauses = tuple(_OPERATORS[str(op)](str(op), arg) for op, arg in test.items())
        return cls(column=column, clauses=clauses, spelling=str(dict(test)))

    @property
    def references(self) -> tuple[str, ...]:
        """Other columns the clauses compare with."""
        return tuple(name for clause in self.clauses for name in clause.references)

    def predicate(self) -> Predicate:
        """The test on the column's value alone (for tests that compare with no other column)."""
        parts = tuple(c.predicate() for c in self.clauses)
        if len(parts) == 1:
            return parts[0]
        return lambda v: all(p(v) for p in parts)

    def row_predicate(self, positions: Mapping[str, int]) -> RowPredicate:
        """The test on a mapped row whose values sit at ``positions``."""
        index = positions[self.column]
        if not self.references:
            test = self.predicate()
            return lambda row: test(row[index])
        parts = tuple(c.row_predicate(index, positions) for c in self.clauses)
        if len(parts) == 1:
            return parts[0]
        return lambda row: all(p(row) for p in parts)


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
            raise ValueError(_("a condition maps column names to tests, e.g. {danger_state: \"9\"}"))
        unknown = _unknown_operators(data)
        if unknown:
            raise ValueError(_("unknown test {unknown}; use one of "
                               "{sorted}").format(unknown=unknown, sorted=sorted(OPERATORS)))
        return {"tests": tuple(ColumnTest.parse(str(column), test) for column, test in data.items())}

    @classmethod
    def patterns(cls, data: Any) -> Condition:
        """A rule's ``matches: {column: REGEX}``: each column's text must contain a match, and a
        NULL passes. ValueError names what is wrong."""
        if isinstance(data, Condition):
            return data
        if not isinstance(data, Mapping) or not data:
            raise ValueError(_("'matches' maps column names to regular expressions, e.g. {phone: '^1\\d{10}$'}"))
        tests = []
        for column, pattern in data.items():
            checked = compiled_pattern(pattern, f"the regular expression of {column!r}")
            tests.append(ColumnTest(column=str(column), clauses=(Matches(pattern=checked, null=True),),
                                    spelling=f"matches '{checked}'"))
        return cls.model_construct(tests=tuple(tests))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(t.column for t in self.tests)

    @property
    def references(self) -> tuple[str, ...]:
        """Other columns its tests compare with (``{ge: {column: NAME}}``)."""
        return tuple(name for t in self.tests for name in t.references)

    def describe(self) -> str:
        return ", ".join(f"{t.column} {t.spelling}" for t in self.tests)

    def failing(self, positions: Mapping[str, int]) -> Callable[[Sequence[Any]], list[str]]:
        """The columns of a mapped row whose test does not hold."""
        parts = tuple((t.column, t.row_predicate(positions)) for t in self.tests)
        return lambda row: [column for column, test in parts if not test(row)]

    def predicate(self, positions: Mapping[str, int]) -> RowPredicate:
        """Whether a mapped row (values in ``positions`` order) meets the condition."""
        parts = tuple(t.row_predicate(positions) for t in self.tests)
        if len(parts) == 1:
            return parts[0]
        return lambda row: all(test(row) for test in parts)
