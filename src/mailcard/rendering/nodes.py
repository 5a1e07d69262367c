"""The template AST: expression and statement nodes produced by the parser.

Every node carries ``line``/``col`` (1-based) so compile and runtime errors point into the
template, and expressions keep their source text (``src``) for readable error paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Apply",
    "ArrayLit",
    "Arrow",
    "Autoescape",
    "Binary",
    "Cond",
    "Const",
    "Do",
    "Expr",
    "Filter",
    "For",
    "Func",
    "GetAttr",
    "HashLit",
    "If",
    "MacroCall",
    "MacroDef",
    "Name",
    "Node",
    "Output",
    "Print",
    "Set",
    "SetCapture",
    "Slice",
    "Template",
    "Test",
    "Text",
    "Unary",
    "With",
]


@dataclass(slots=True, kw_only=True)
class Node:
    line: int = 0
    col: int = 0


@dataclass(slots=True, kw_only=True)
class Expr(Node):
    src: str = ""


@dataclass(slots=True, kw_only=True)
class Const(Expr):
    value: Any


@dataclass(slots=True, kw_only=True)
class Name(Expr):
    name: str


@dataclass(slots=True, kw_only=True)
class GetAttr(Expr):
    obj: Expr
    key: Expr
    dot: bool  # a.b (True) or a[b] (False)


@dataclass(slots=True, kw_only=True)
class Slice(Expr):
    obj: Expr
    start: Expr | None
    length: Expr | None


@dataclass(slots=True, kw_only=True)
class ArrayLit(Expr):
    items: list[Expr]


@dataclass(slots=True, kw_only=True)
class HashLit(Expr):
    pairs: list[tuple[Expr, Expr]]


@dataclass(slots=True, kw_only=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(slots=True, kw_only=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(slots=True, kw_only=True)
class Cond(Expr):
    """``test ? then : else``; ``kind`` is ``ternary``, ``elvis`` (a ?: b) or ``coalesce`` (a ?? b)."""

    kind: str
    test: Expr
    then: Expr
    otherwise: Expr


@dataclass(slots=True, kw_only=True)
class Filter(Expr):
    name: str
    node: Expr
    args: list[Expr] = field(default_factory=list)
    kwargs: dict[str, Expr] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Func(Expr):
    name: str
    args: list[Expr] = field(default_factory=list)
    kwargs: dict[str, Expr] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class MacroCall(Expr):
    macro: str
    args: list[Expr] = field(default_factory=list)
    kwargs: dict[str, Expr] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Test(Expr):
    name: str
    node: Expr
    args: list[Expr] = field(default_factory=list)
    negated: bool = False


@dataclass(slots=True, kw_only=True)
class Arrow(Expr):
    params: list[str]
    body: Expr


# --------------------------------------------------------------------------------------- statements


@dataclass(slots=True, kw_only=True)
class Text(Node):
    value: str


@dataclass(slots=True, kw_only=True)
class Print(Node):
    expr: Expr


@dataclass(slots=True, kw_only=True)
class Output(Node):
    """A list of statements (a template body)."""

    body: list[Node]


@dataclass(slots=True, kw_only=True)
class If(Node):
    branches: list[tuple[Expr, list[Node]]]
    otherwise: list[Node] | None


@dataclass(slots=True, kw_only=True)
class For(Node):
    key_target: str | None
    value_target: str
    seq: Expr
    body: list[Node]
    otherwise: list[Node] | None
    condition: Expr | None = None


@dataclass(slots=True, kw_only=True)
class Set(Node):
    targets: list[str]
    values: list[Expr]


@dataclass(slots=True, kw_only=True)
class SetCapture(Node):
    target: str
    body: list[Node]


@dataclass(slots=True, kw_only=True)
class Apply(Node):
    """``{% apply f|g %}body{% endapply %}``: ``chain`` is a Filter expression over ``Name(tmp)``."""

    tmp: str
    chain: Expr
    body: list[Node]


@dataclass(slots=True, kw_only=True)
class Autoescape(Node):
    strategy: str | None
    body: list[Node]


@dataclass(slots=True, kw_only=True)
class With(Node):
    variables: Expr | None
    only: bool
    body: list[Node]


@dataclass(slots=True, kw_only=True)
class Do(Node):
    expr: Expr


@dataclass(slots=True, kw_only=True)
class MacroDef(Node):
    name: str
    params: list[tuple[str, Expr | None]]
    body: list[Node]


@dataclass(slots=True, kw_only=True)
class Template(Node):
    body: list[Node]
    macros: dict[str, MacroDef]
    blocks: dict[str, list[Node]]  # {% block name %} bodies, for the block() function
