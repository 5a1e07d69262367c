"""Static half of ``find_unresolved``: variable paths checked against a sample context without
rendering, so branches the sample data does not enter are checked too.

Rules (kept conservative to avoid false alarms): names the template assigns (``set``, ``for``,
``with {...}``, macro arguments, arrow parameters) are never reported; a ``for`` variable takes the
shape of the first element of its sequence; paths under ``is defined``, ``??`` or ``|default``,
and paths tested with ``is defined`` in an enclosing ``if``, are guarded; a dynamic key
(``a[b]``) stops the check at that point.
"""

from __future__ import annotations

from typing import Any

from mailcard.rendering import nodes as n
from mailcard.rendering.codegen import assigned_names, path_of
from mailcard.rendering.runtime import UnresolvedVariable, _join_path, _suggest
from mailcard.rendering.values import MISSING, array_items, is_array, lookup

__all__ = ["static_unresolved"]

UNKNOWN: Any = object()  # a value the checker cannot know (set by the template, dynamic key...)


class _Checker:
    def __init__(self, template: n.Template, context: dict[str, Any]) -> None:
        self.template = template
        self.found: list[UnresolvedVariable] = []
        self.assigned = assigned_names(template.body)
        self.context = context

    def run(self) -> list[UnresolvedVariable]:
        self.body(self.template.body, dict(self.context), frozenset())
        for macro in self.template.macros.values():
            scope: dict[str, Any] = {param: UNKNOWN for param, _ in macro.params}
            scope["varargs"] = UNKNOWN
            scope.update({name: UNKNOWN for name in assigned_names(macro.body)})
            self.body(macro.body, scope, frozenset(), in_macro=True)
        return self.found

    # ----------------------------------------------------------------------------- statements

    def body(
        self, nodes: list[n.Node], scope: dict[str, Any], guarded: frozenset[str], in_macro: bool = False
    ) -> None:
        for node in nodes:
            self.statement(node, scope, guarded, in_macro)

    def statement(self, node: n.Node, scope: dict[str, Any], guarded: frozenset[str], in_macro: bool) -> None:
        if isinstance(node, n.Print | n.Do):
            self.expr(node.expr, scope, guarded, in_macro)
        elif isinstance(node, n.If):
            guards = set(guarded)
            for condition, _ in node.branches:
                guards.update(defined_paths(condition))
            frozen = frozenset(guards)
            for condition, branch in node.branches:
                self.expr(condition, scope, frozen, in_macro)
                self.body(branch, scope, frozen, in_macro)
            if node.otherwise:
                self.body(node.otherwise, scope, frozen, in_macro)
        elif isinstance(node, n.For):
            sequence = self.expr(node.seq, scope, guarded, in_macro)
            inner = dict(scope)
            sample: Any = UNKNOWN
            if is_array(sequence):
                for _, first in array_items(sequence):
                    sample = first
                    break
            inner[node.value_target] = sample
            if node.key_target:
                inner[node.key_target] = UNKNOWN
            inner["loop"] = UNKNOWN
            if node.condition is not None:
                self.expr(node.condition, inner, guarded, in_macro)
            self.body(node.body, inner, guarded, in_macro)
            if node.otherwise:
                self.body(node.otherwise, scope, guarded, in_macro)
        elif isinstance(node, n.Set):
            for value in node.values:
                self.expr(value, scope, guarded, in_macro)
            for target in node.targets:
                scope[target] = UNKNOWN
        elif isinstance(node, n.SetCapture):
            self.body(node.body, scope, guarded, in_macro)
            scope[node.target] = UNKNOWN
        elif isinstance(node, n.Apply):
            scope[node.tmp] = UNKNOWN
            self.body(node.body, scope, guarded, in_macro)
            self.expr(node.chain, scope, guarded, in_macro)
        elif isinstance(node, n.Autoescape | n.Output):
            self.body(node.body, scope, guarded, in_macro)
        elif isinstance(node, n.With):
            inner = {} if node.only else dict(scope)
            if node.variables is not None:
                self.expr(node.variables, scope, guarded, in_macro)
                if isinstance(node.variables, n.HashLit):
                    for key, _ in node.variables.pairs:
                        if isinstance(key, n.Const):
                            inner[str(key.value)] = UNKNOWN
                else:
                    return  # unknown names arrive: nothing inside can be judged
            self.body(node.body, inner, guarded, in_macro)

    # ----------------------------------------------------------------------------- expressions

    def expr(
        self, expr: n.Expr | None, scope: dict[str, Any], guarded: frozenset[str], in_macro: bool
    ) -> Any:
        """Check ``expr``; returns its sample value when it is a known path, else UNKNOWN."""
        if expr is None:
            return UNKNOWN
        if isinstance(expr, n.Name):
            return self.name(expr, scope, guarded, in_macro)
        if isinstance(expr, n.GetAttr):
            return self.getattr(expr, scope, guarded, in_macro)
        if isinstance(expr, n.Test) and expr.name == "defined":
            return UNKNOWN
        if isinstance(expr, n.Cond) and expr.kind == "coalesce":
            self.expr(expr.otherwise, scope, guarded, in_macro)
            return UNKNOWN
        if isinstance(expr, n.Filter) and expr.name == "default":
            for arg in [*expr.args, *expr.kwargs.values()]:
                self.expr(arg, scope, guarded, in_macro)
            if not isinstance(expr.node, n.Name | n.GetAttr):
                self.expr(expr.node, scope, guarded, in_macro)
            return UNKNOWN
        if isinstance(expr, n.Arrow):
            inner = dict(scope)
            inner.update({param: UNKNOWN for param in expr.params})
            self.expr(expr.body, inner, guarded, in_macro)
            return UNKNOWN
        for child in children(expr):
            self.expr(child, scope, guarded, in_macro)
        return UNKNOWN

    def name(self, expr: n.Name, scope: dict[str, Any], guarded: frozenset[str], in_macro: bool) -> Any:
        if expr.name in scope:
            return scope[expr.name]
        if expr.name in ("_self", "_charset") or expr.name in guarded:
            return UNKNOWN
        if not in_macro and expr.name in self.assigned:
            return UNKNOWN
        self.report(expr.name, expr, _suggest(expr.name, scope))
        return MISSING

    def getattr(self, expr: n.GetAttr, scope: dict[str, Any], guarded: frozenset[str], in_macro: bool) -> Any:
        parent = self.expr(expr.obj, scope, guarded, in_macro)
        if not isinstance(expr.key, n.Const):
            self.expr(expr.key, scope, guarded, in_macro)
            return UNKNOWN
        if parent is UNKNOWN or parent is MISSING:
            return UNKNOWN if parent is UNKNOWN else MISSING
        prefix = path_of(expr.obj)
        path = _join_path(prefix, expr.key.value, expr.dot)
        if path in guarded:
            return UNKNOWN
        value = lookup(parent, expr.key.value)
        if value is not MISSING:
            return value
        if is_array(parent):
            keys = [key for key, _ in array_items(parent)]
            close = _suggest(str(expr.key.value), keys)
            suggestion = _join_path(prefix, close, expr.dot) if close is not None else None
            self.report(path, expr, suggestion)
        elif parent is None:
            self.report(path, expr, None)
        return MISSING

    def report(self, path: str, node: n.Node, suggestion: str | None) -> None:
        self.found.append(UnresolvedVariable(path, node.line, node.col, suggestion))


def children(expr: n.Expr) -> list[n.Expr]:
    result: list[n.Expr] = []
    for slot in type(expr).__slots__:
        value = getattr(expr, slot, None)
        if isinstance(value, n.Expr):
            result.append(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, n.Expr):
                    result.append(item)
                elif isinstance(item, tuple):
                    result.extend(part for part in item if isinstance(part, n.Expr))
        elif isinstance(value, dict):
            result.extend(item for item in value.values() if isinstance(item, n.Expr))
    return result


def defined_paths(expr: n.Expr) -> set[str]:
    """Paths an ``if`` condition tests with ``is defined`` (they guard the branches)."""
    paths: set[str] = set()
    stack: list[n.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Test) and node.name == "defined":
            paths.add(path_of(node.node))
        stack.extend(children(node))
    return paths


def static_unresolved(template: n.Template, context: dict[str, Any]) -> list[UnresolvedVariable]:
    return _Checker(template, context).run()
