"""What an operator that failed at run time on its operands says: which operator, what kind
of value each operand was, and what it needs, as engine/filterfail.py says it for filters.
`validate` sees the constants of a rule; `'%d' % name` with `name` a text of the record is
only known per record, and Python's own TypeError quotes neither anything a rule's author
can act on nor, safely, the message (it may quote the record's data).

Never the values themselves: they are the record's data (only their kinds are named). Both
ways of evaluating a rule use these: Jinja's code through engine/exprenv.py (`call_binop`,
`compared`) and the closures of engine/exprfast.py."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from tpsqbo_engine import budget as limits
from tpsqbo_engine.exprvalue import listed
from tpsqbo_engine.filterfail import kind_of
from tpsqbo_engine.filters import ExpressionError

_COMPARES = (
    "it compares two numbers, two texts or two dates; make both the same kind first "
    "(`| int`, `| decimal`, `| string`)"
)
# What each operator takes, said after the kinds it was given.
_NEEDS = {
    "+": "it adds two numbers, or joins two texts or two lists; to join a text and another "
    "value use `~` (`'No. ' ~ number`)",
    "-": "it subtracts a number from a number; convert a text first (`| int`, `| decimal`)",
    "*": "it multiplies two numbers, or repeats a text or a list a whole number of times",
    "/": "it divides a number by a number; convert a text first (`| int`, `| decimal`)",
    "//": "it divides a number by a number; convert a text first (`| int`, `| decimal`)",
    "%": "with a text on its left it formats that text with the value on its right (a list "
    "of them for more than one), one for each %-code in the text and of the kind that code "
    "asks (%s any value, %d and %i a whole number, %f a number), with %% for a % sign; "
    "between two numbers it gives the remainder",
    "<": _COMPARES,
    "<=": _COMPARES,
    ">": _COMPARES,
    ">=": _COMPARES,
    "in": "it looks for a text in a text, an item in a list, or a key in a mapping",
    "not in": "it looks for a text in a text, an item in a list, or a key in a mapping",
}
# What `-x` and `+x` (one operand) take.
_SIGN_NEEDS = {
    "-": "before a value it makes a number negative; convert a text first (`| int`, `| decimal`)",
    "+": "before a value it takes a number; convert a text first (`| int`, `| decimal`)",
}


def failed_operator(symbol: str, left: Any, right: Any, exc: BaseException) -> ExpressionError:
    """The error for operator `symbol` failing on `left` and `right` with `exc` (a TypeError,
    a ValueError of `%`'s format, or a division by zero)."""
    if isinstance(exc, ZeroDivisionError):
        return ExpressionError(
            f"the `{symbol}` operator divided {kind_of(left)} by zero; "
            "guard it (`x / n if n else 0`)"
        )
    given = f"{kind_of(left)} and {kind_of(right)}"
    if symbol == "%" and isinstance(exc, ValueError):
        given = f"{given}, the text with a %-code it does not know or one left unfinished"
    elif symbol == "%" and isinstance(left, str):
        given = f"{given}, the values not matching the text's %-codes in number or kind"
    return ExpressionError(
        f"the `{symbol}` operator cannot take what it was given ({given}); {_NEEDS[symbol]}"
    )


def failed_sign(symbol: str, operand: Any) -> ExpressionError:
    """The error for `-x` or `+x` (`symbol`) failing on `operand` (a text, a list...)."""
    return ExpressionError(
        f"the `{symbol}` operator cannot take what it was given ({kind_of(operand)}); "
        f"{_SIGN_NEEDS[symbol]}"
    )


def _signed(symbol: str, apply: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(operand: Any) -> Any:
        try:
            return apply(operand)
        except TypeError:
            raise failed_sign(symbol, operand) from None

    return run


# `-x` and `+x`, checked: Jinja's code calls them through the environment's `signed`, the
# closures of engine/exprfast.py as they are.
SIGNS: dict[str, Callable[[Any], Any]] = {
    "-": _signed("-", operator.neg),
    "+": _signed("+", operator.pos),
}


def signed(symbol: str, operand: Any) -> Any:
    """`-operand` or `+operand` (`symbol`) of Jinja's code, checked."""
    return SIGNS[symbol](operand)


def formatted(text: Any, arguments: Any) -> Any:
    """`text % arguments`, a generator among the arguments (`'%s' % (lines | batch(2))`)
    made its list first, as `~` and `{{ ... }}` make one: Jinja users read `'%s' % x`, `x ~ ''`
    and `{{ x }}` as the same text of `x`, and Python's would be "<generator object ...>"
    with a memory address in it. The arguments listed are sized again (the budget saw the
    generator, not its list)."""
    if not isinstance(text, str):
        return text % arguments
    made = _listed_arguments(arguments)
    if made is not arguments:
        limits.check_format(text, made)
    return text % made


def _listed_arguments(arguments: Any) -> Any:
    """`%`'s right side with each generator in it (itself, an item of its tuple or a value
    of its mapping) made a list; the same object when it holds none."""
    if isinstance(arguments, Iterator):
        return listed(arguments)
    if type(arguments) is tuple and any(isinstance(item, Iterator) for item in arguments):
        return tuple(listed(item) for item in arguments)
    if type(arguments) is dict and any(isinstance(v, Iterator) for v in arguments.values()):
        return {key: listed(value) for key, value in arguments.items()}
    return arguments


def checked(symbol: str, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`apply` (operator `symbol`), failing with `failed_operator` on operands it cannot take."""
    failing = _FAILING.get(symbol, (TypeError,))

    def run(left: Any, right: Any) -> Any:
        try:
            return apply(left, right)
        except failing as exc:
            raise failed_operator(symbol, left, right, exc) from None

    return run


# What each operator raises for operands it cannot take (others, TypeError alone).
_FAILING: dict[str, tuple[type[Exception], ...]] = {
    "%": (TypeError, ValueError, ZeroDivisionError),
    "/": (TypeError, ZeroDivisionError),
    "//": (TypeError, ZeroDivisionError),
}

# The comparisons that can fail on their operands' kinds (`==` and `!=` never do), by the
# names Jinja's parser gives them, checked.
COMPARES: dict[str, Callable[[Any, Any], Any]] = {
    "gt": checked(">", operator.gt),
    "gteq": checked(">=", operator.ge),
    "lt": checked("<", operator.lt),
    "lteq": checked("<=", operator.le),
    "in": checked("in", lambda left, right: left in right),
    "notin": checked("not in", lambda left, right: left not in right),
}

# The arithmetic operators, checked (the sandbox's limits are applied before, by exprenv).
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    symbol: checked(symbol, apply)
    for symbol, apply in {
        "+": operator.add,
        "-": operator.sub,
        "*": operator.mul,
        "/": operator.truediv,
        "//": operator.floordiv,
        "%": formatted,
    }.items()
}


def compared(op: str, left: Any, right: Any) -> Any:
    """Comparison `op` (Jinja's name: `lt`, `in`...) of Jinja's code, checked."""
    return COMPARES[op](left, right)
