"""AST → Python source. The generated module defines ``render(_R, c)`` and one function per macro.

Generated code only ever names the helpers listed in :data:`NAMESPACE` and the context dict;
template identifiers become dict keys (``c['name']``), never Python names, so a template cannot
reach anything the helpers do not hand it. The module is executed with empty ``__builtins__``.

Line mapping: every expression that can fail is emitted on its own physical line (inside
parentheses, where Python allows newlines), and ``line_map[python_line - 1]`` gives the template
``(line, column)``; the engine reads the failing line from the traceback, so locating an error
costs nothing while rendering.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from mailcard.errors import TemplateSyntaxError
from mailcard.rendering import escape as esc
from mailcard.rendering import library as lib
from mailcard.rendering import nodes as n
from mailcard.rendering import phpformat
from mailcard.rendering import runtime as rt
from mailcard.rendering import values as v

__all__ = ["NAMESPACE", "generate"]

MARK_START = "\x01"
MARK_END = "\x02"

NAMESPACE: dict[str, Any] = {
    "MISSING": v.MISSING,
    "Markup": v.Markup,
    "_float": float,
    "_type": type,
    "_str": str,
    "_int": int,
    "_dict": dict,
    "_len": len,
    "_enumerate": enumerate,
    "zip": zip,
    "_s": v.to_str,
    "_tr": v.truthy,
    "_esc": esc.auto_escape,
    "_eh": esc.escape_html,
    "_ga": rt.getattr_plain,
    "_gas": rt.getattr_strict,
    "_gad": rt.getattr_defined,
    "_undef": rt.undefined_name,
    "_cat": rt.concat,
    "_add": v.add,
    "_sub": v.sub,
    "_mul": v.mul,
    "_div": v.div,
    "_fdiv": v.floordiv,
    "_mod": v.mod,
    "_pow": v.power,
    "_neg": v.neg,
    "_num": v.to_number,
    "_eq": v.loose_eq,
    "_cmp": v.compare,
    "_same": v.same_as,
    "_in": rt.contains,
    "_starts": rt.starts_with,
    "_ends": rt.ends_with,
    "_band": rt.bit_and,
    "_bor": rt.bit_or,
    "_bxor": rt.bit_xor,
    "_match": lib.matches,
    "_hash": rt.make_hash,
    "_empty": rt.is_empty,
    "_items": rt.loop_items,
    "_pairs": rt.loop_pairs,
    "_withvars": rt.with_variables,
    "_capture": rt.capture,
    "_macro": rt.call_macro,
    "_arrow": lib.arrow_function,
    "_nf": phpformat.number_format,
}
for _name, _spec in lib.FILTERS.items():
    NAMESPACE[f"F_{_name}"] = _spec.fn
for _name, _spec in lib.FUNCTIONS.items():
    NAMESPACE[f"FN_{_name}"] = _spec.fn
for _name, _spec in lib.TESTS.items():
    NAMESPACE[f"T_{_name.replace(' ', '_')}"] = _spec.fn

BOOL_OPS = {
    "==",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "in",
    "starts with",
    "ends with",
    "===",
    "!==",
    "and",
    "or",
    "xor",
}
# Python code of each binary operator whose operands are both evaluated ({l} and {r}); and/or/xor
# short-circuit and are generated apart.
BINARY_CODE: dict[str, str] = {
    **{
        op: f"{fn}({{l}}, {{r}})"
        for op, fn in {
            "+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "//": "_fdiv", "%": "_mod", "**": "_pow",
            "b-and": "_band", "b-or": "_bor", "b-xor": "_bxor",
            "==": "_eq", "<=>": "_cmp", "===": "_same", "in": "_in",
            "starts with": "_starts", "ends with": "_ends",
        }.items()
    },
    **{op: f"(_cmp({{l}}, {{r}}) {op} 0)" for op in ("<", ">", "<=", ">=")},
    "~": "_cat(_R, {l}, {r})",
    "!=": "(not _eq({l}, {r}))",
    "!==": "(not _same({l}, {r}))",
    "matches": "(1 if _match(_R, {l}, {r}) else 0)",
}  # fmt: skip
MAX_EXPR_NESTING = 45


class Generator:
    def __init__(self, template: n.Template, name: str, autoescape: str | None, strict: bool) -> None:
        self.template = template
        self.name = name
        self.strict = strict
        self.lines: list[tuple[int, str, int]] = []
        self.positions: list[tuple[int, int]] = [(1, 1)]
        self.indent = 0
        self.counter = 0
        self.ctx = "c"
        self.writer = "_w"
        self.out = "_o"
        self.strategies: list[str | None] = [autoescape]
        self.locals: dict[str, str] = {}
        self.nesting = 0
        # Output not yet emitted: (text or code, position, is_text). Consecutive outputs are
        # written with one list extend rather than one append call each.
        self.pending: list[tuple[str, int, bool]] = []

    # ------------------------------------------------------------------------- emission

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pos(self, node: n.Node) -> int:
        self.positions.append((node.line or 1, node.col or 1))
        return len(self.positions) - 1

    def emit(self, text: str, node: n.Node | None = None) -> None:
        self.flush_text()
        self.lines.append((self.indent, text, self.pos(node) if node is not None else self._last_pos()))

    def _last_pos(self) -> int:
        return self.lines[-1][2] if self.lines else 0

    def mark(self, node: n.Node, code: str) -> str:
        return f"({MARK_START}{self.pos(node)}{MARK_END}{code})"

    def write_text(self, text: str, node: n.Node) -> None:
        if self.pending and self.pending[-1][2]:
            previous, position, _ = self.pending[-1]
            self.pending[-1] = (previous + text, position, True)
        else:
            self.pending.append((text, self.pos(node), True))

    def write_code(self, code: str, node: n.Node) -> None:
        self.pending.append((code, self.pos(node), False))

    def flush_text(self) -> None:
        if not self.pending:
            return
        parts = [
            (repr(text) if is_text else text, pos, is_text) for text, pos, is_text in self.pending if text
        ]
        self.pending = []
        if not parts:
            return
        if len(parts) == 1:
            code, position, _ = parts[0]
            self.lines.append((self.indent, f"{self.writer}({code})", position))
            return
        # Each expression on its own physical line mapped to its {{ }}, as a lone write would be.
        body = "".join(
            f"{code}, " if is_text else f"{MARK_START}{pos}{MARK_END}{code}, " for code, pos, is_text in parts
        )
        self.lines.append((self.indent, f"{self.out} += ({body})", parts[0][1]))

    # ------------------------------------------------------------------------- module

    def module(self) -> tuple[str, list[tuple[int, int]]]:
        for macro in self.template.macros.values():
            self.macro_function(macro)
        for number, body in enumerate(self.template.blocks.values()):
            self.block_function(number, body)
        self.emit("def render(_R, c):")
        self.indent += 1
        self.emit("_o = []")
        self.emit("_w = _o.append")
        self.block(self.template.body)
        self.emit("return _o")
        self.indent -= 1
        return self.assemble()

    def macro_function(self, macro: n.MacroDef) -> None:
        self.capturing_function(self.macro_function_name(macro.name), macro.body, macro, macro.params)

    def block_function(self, number: int, body: list[n.Node]) -> None:
        """``{% block %}`` as a function of a copy of the caller's context (Twig passes it by value)."""
        self.capturing_function(f"_b{number}", body, body[0] if body else self.template, [])

    def capturing_function(
        self, name: str, body: list[n.Node], node: n.Node, params: list[tuple[str, n.Expr | None]]
    ) -> None:
        """``def name(_R, c)`` rendering ``body`` into its own buffer and returning it as Markup;
        ``params`` (a macro's) get their defaults where the call left them out."""
        saved = (self.ctx, self.writer, self.out, self.strategies)
        self.ctx, self.writer, self.out = "c", "_w", "_o"
        self.emit(f"def {name}(_R, c):", node)
        self.indent += 1
        self.emit("_o = []")
        self.emit("_w = _o.append")
        for param, default in params:
            value = self.expr(default) if default is not None else "None"
            self.emit(f"if c[{param!r}] is MISSING: c[{param!r}] = {value}", node)
        self.block(body)
        self.emit("return _capture(_o)")
        self.indent -= 1
        self.ctx, self.writer, self.out, self.strategies = saved

    def block_call(self, expr: n.Func) -> str:
        first = expr.args[0] if expr.args else None
        names = list(self.template.blocks)
        if len(expr.args) != 1 or not isinstance(first, n.Const) or first.value not in names:
            shown = f'"{first.value}" ' if isinstance(first, n.Const) else ""
            raise TemplateSyntaxError(
                f"block() renders a block of this template: the block {shown}does not exist at line "
                f"{expr.line}",
                line=expr.line,
                column=expr.col,
                name=self.name,
            )
        return self.mark(expr, f"_b{names.index(first.value)}(_R, _dict({self.ctx}))")

    def assemble(self) -> tuple[str, list[tuple[int, int]]]:
        self.flush_text()
        physical: list[str] = []
        line_map: list[tuple[int, int]] = []
        for indent, text, position in self.lines:
            pieces = text.split(MARK_START)
            physical.append("    " * indent + pieces[0])
            line_map.append(self.positions[position])
            for piece in pieces[1:]:
                index, _, rest = piece.partition(MARK_END)
                physical.append("    " * (indent + 1) + rest)
                line_map.append(self.positions[int(index)])
        return "\n".join(physical) + "\n", line_map

    # ------------------------------------------------------------------------- statements

    def block(self, body: list[n.Node]) -> None:
        start = len(self.lines)
        for node in body:
            self.statement(node)
        self.flush_text()
        if len(self.lines) == start:
            self.emit("pass")

    def statement(self, node: n.Node) -> None:
        if isinstance(node, n.Text):
            self.write_text(node.value, node)
        elif isinstance(node, n.Print):
            self.print_(node)
        elif isinstance(node, n.If):
            self.if_(node)
        elif isinstance(node, n.For):
            self.for_(node)
        elif isinstance(node, n.Set):
            self.set_(node)
        elif isinstance(node, n.SetCapture):
            buffer = self.capture(node.body, node)
            self.emit(f"{self.ctx}[{node.target!r}] = _capture({buffer})", node)
        elif isinstance(node, n.Apply):
            buffer = self.capture(node.body, node)
            self.emit(f"{self.ctx}[{node.tmp!r}] = _capture({buffer})", node)
            self.print_(n.Print(expr=node.chain, line=node.line, col=node.col))
            self.emit(f"del {self.ctx}[{node.tmp!r}]", node)
        elif isinstance(node, n.Autoescape):
            self.strategies.append(node.strategy)
            for child in node.body:
                self.statement(child)
            self.strategies.pop()
        elif isinstance(node, n.Output):
            for child in node.body:
                self.statement(child)
        elif isinstance(node, n.With):
            self.with_(node)
        elif isinstance(node, n.Do):
            self.emit(self.expr(node.expr), node)
        else:  # pragma: no cover - the parser produces only the nodes above
            raise TemplateSyntaxError(
                f"cannot compile {type(node).__name__}", line=node.line, column=node.col
            )

    def capture(self, body: list[n.Node], node: n.Node) -> str:
        buffer = self.fresh("_o")
        writer = self.fresh("_w")
        self.emit(f"{buffer} = []", node)
        self.emit(f"{writer} = {buffer}.append", node)
        saved = (self.writer, self.out)
        self.writer, self.out = writer, buffer
        for child in body:
            self.statement(child)
        self.flush_text()
        self.writer, self.out = saved
        return buffer

    def print_(self, node: n.Print) -> None:
        expr = node.expr
        strategy = self.strategies[-1]
        if isinstance(expr, n.Const):
            self.write_text(v.to_str(expr.value), node)
            return
        code = self.to_text(expr) if strategy is None else self.escaped(expr, strategy)
        self.write_code(code, node)

    def if_(self, node: n.If) -> None:
        for index, (condition, body) in enumerate(node.branches):
            keyword = "if" if index == 0 else "elif"
            self.emit(f"{keyword} {self.cond(condition)}:", condition)
            self.indent += 1
            self.block(body)
            self.indent -= 1
        if node.otherwise is not None:
            self.emit("else:", node)
            self.indent += 1
            self.block(node.otherwise)
            self.indent -= 1

    def set_(self, node: n.Set) -> None:
        if len(node.targets) == 1:
            self.emit(f"{self.ctx}[{node.targets[0]!r}] = {self.expr(node.values[0])}", node)
            return
        temp = self.fresh("_set")
        values = ", ".join(self.expr(value) for value in node.values)
        self.emit(f"{temp} = ({values},)", node)
        for index, target in enumerate(node.targets):
            self.emit(f"{self.ctx}[{target!r}] = {temp}[{index}]", node)

    def with_(self, node: n.With) -> None:
        scope = self.fresh("_c")
        base = "{}" if node.only else f"_dict({self.ctx})"
        self.emit(f"{scope} = {base}", node)
        if node.variables is not None:
            self.emit(f"{scope}.update(_withvars({self.expr(node.variables)}))", node)
        saved = self.ctx
        self.ctx = scope
        for child in node.body:
            self.statement(child)
        self.flush_text()
        self.ctx = saved

    def for_(self, node: n.For) -> None:
        ctx = self.ctx
        # As Twig's optimizer decides: `loop` is kept when the body, the condition or the else
        # part names it.
        parts = [
            *node.body,
            *([node.condition] if node.condition is not None else []),
            *(node.otherwise or []),
        ]
        uses_loop = any(isinstance(x, n.Name) and x.name == "loop" for x in walk(parts))
        assigned = sorted(assigned_names(node.body) - {node.value_target, node.key_target or "", "loop"})
        seq = self.fresh("_seq")
        index = self.fresh("_i")
        item = self.fresh("_v")
        key = self.fresh("_k")
        saved = self.fresh("_sv")
        fresh_names = self.fresh("_new")
        loop = self.fresh("_loop")
        length = self.fresh("_n")
        targets = [node.value_target] + ([node.key_target] if node.key_target else [])
        if uses_loop:
            targets.append("loop")
        getter = "_pairs" if node.key_target else "_items"
        self.emit(f"{seq} = {getter}({self.expr(node.seq)})", node.seq)
        # Saved one local per name, unrolled: cheaper than a comprehension and a zip per loop.
        saved_names = [f"{saved}_{number}" for number in range(len(targets))]
        for target, saved_name in zip(targets, saved_names, strict=True):
            self.emit(f"{saved_name} = {ctx}.get({target!r}, MISSING)", node)
        if assigned:
            self.emit(f"{fresh_names} = [name for name in {tuple(assigned)!r} if name not in {ctx}]", node)
        self.emit(f"{length} = _len({seq})", node)
        self.emit(f"if {length}:", node)
        self.indent += 1
        if uses_loop:
            self.emit(
                f"{loop} = {{'parent': _dict({ctx}), 'length': {length}, 'index0': 0, 'index': 1, "
                f"'revindex0': {length} - 1, 'revindex': {length}, 'first': True, 'last': {length} == 1}}",
                node,
            )
            self.emit(f"{ctx}['loop'] = {loop}", node)
        if node.key_target:
            self.emit(f"for {index}, ({key}, {item}) in _enumerate({seq}):", node)
        else:
            self.emit(f"for {index}, {item} in _enumerate({seq}):", node)
        self.indent += 1
        self.emit("_R.n += 1", node)
        self.emit(f"if _R.n > _R.next: _R.check({self.out})", node)
        self.emit(f"{ctx}[{node.value_target!r}] = {item}", node)
        if node.key_target:
            self.emit(f"{ctx}[{node.key_target!r}] = {key}", node)
        if uses_loop:
            self.emit(f"if {index}:", node)
            self.indent += 1
            self.emit(
                f"{loop}['index0'] = {index}; {loop}['index'] = {index} + 1; "
                f"{loop}['revindex0'] = {length} - {index} - 1; {loop}['revindex'] = {length} - {index}; "
                f"{loop}['first'] = False; {loop}['last'] = {index} == {length} - 1",
                node,
            )
            self.indent -= 1
        if node.condition is not None:
            self.emit(f"if not {self.cond(node.condition)}: continue", node.condition)
        self.block(node.body)
        self.indent -= 1
        self.indent -= 1
        if node.otherwise is not None:
            self.emit("else:", node)
            self.indent += 1
            if uses_loop:
                # Twig sets `loop` before it knows the sequence is empty, so `else` sees one too.
                self.emit(
                    f"{ctx}['loop'] = {{'parent': _dict({ctx}), 'length': 0, 'index0': 0, 'index': 1, "
                    "'revindex0': -1, 'revindex': 0, 'first': True, 'last': False}",
                    node,
                )
            self.block(node.otherwise)
            self.indent -= 1
        # Twig scoping: loop variables get their old values back, variables first set inside the
        # loop disappear, variables that existed before keep what the loop assigned.
        for target, saved_name in zip(targets, saved_names, strict=True):
            self.emit(f"if {saved_name} is MISSING: {ctx}.pop({target!r}, None)", node)
            self.emit(f"else: {ctx}[{target!r}] = {saved_name}", node)
        if assigned:
            self.emit(f"for name in {fresh_names}: {ctx}.pop(name, None)", node)

    # ------------------------------------------------------------------------- output text

    def to_text(self, expr: n.Expr) -> str:
        code = self.expr(expr)
        temp = self.fresh("_x")
        return f"({temp} if _type({temp} := {code}) is _str else _s({temp}))"

    def is_safe(self, expr: n.Expr, strategy: str) -> bool:
        if isinstance(expr, n.Const):
            return True
        if isinstance(expr, n.Filter):
            if expr.name in ("escape", "e"):
                wanted = "html"
                if expr.args:
                    first = expr.args[0]
                    if not isinstance(first, n.Const):
                        return False
                    wanted = str(first.value)
                elif "strategy" in expr.kwargs:
                    given = expr.kwargs["strategy"]
                    if not isinstance(given, n.Const):
                        return False
                    wanted = str(given.value)
                # html_attr escaping is stricter than html, so it is safe there too (as in Twig).
                return wanted == strategy or (wanted == "html_attr" and strategy == "html")
            spec = lib.FILTERS.get(expr.name)
            return spec is not None and ("all" in spec.safe or strategy in spec.safe)
        if isinstance(expr, n.Cond) and expr.kind == "ternary":
            return self.is_safe(expr.then, strategy) and self.is_safe(expr.otherwise, strategy)
        return False

    def escaped(self, expr: n.Expr, strategy: str) -> str:
        """Text of ``expr`` escaped for ``strategy``, escaping each ternary branch on its own."""
        if self.is_safe(expr, strategy):
            return self.to_text(expr)
        if isinstance(expr, n.Cond):
            otherwise = self.escaped(expr.otherwise, strategy)
            if expr.kind == "ternary":
                return f"({self.escaped(expr.then, strategy)} if {self.cond(expr.test)} else {otherwise})"
            temp = self.fresh("_v")
            then = (
                self.to_text_of(temp)
                if self.is_safe(expr.then, strategy)
                else self.escape_code(temp, strategy)
            )
            if expr.kind == "elvis":
                return f"({then} if _tr({temp} := {self.expr(expr.test)}) else {otherwise})"
            return f"({then} if {self.coalesce_test(expr.test, temp)} else {otherwise})"
        return self.escape_code(self.expr(expr), strategy)

    def to_text_of(self, code: str) -> str:
        return f"_s({code})"

    def escape_code(self, code: str, strategy: str) -> str:
        if strategy == "html":
            temp = self.fresh("_x")
            kind = self.fresh("_k")
            # Inline for str and int (what auto_escape does for them), saving a call per value.
            return (
                f"(_eh({temp}) if ({kind} := _type({temp} := {code})) is _str "
                f"else _str({temp}) if {kind} is _int else _esc({temp}))"
            )
        return f"_esc({code}, {strategy!r})"

    # ------------------------------------------------------------------------- expressions

    def cond(self, expr: n.Expr) -> str:
        code = self.expr(expr)
        if returns_bool(expr):
            return code
        return f"_tr({code})"

    def expr(self, expr: n.Expr) -> str:
        self.nesting += 1
        if self.nesting > MAX_EXPR_NESTING:
            raise TemplateSyntaxError(
                f"the expression is too complex at line {expr.line}",
                line=expr.line,
                column=expr.col,
                name=self.name,
            )
        try:
            return self._expr(expr)
        finally:
            self.nesting -= 1

    def _expr(self, expr: n.Expr) -> str:
        if isinstance(expr, n.Const):
            return const(expr.value)
        if isinstance(expr, n.Name):
            return self.name_(expr)
        if isinstance(expr, n.GetAttr):
            return self.getattr_(expr)
        if isinstance(expr, n.Slice):
            start = self.expr(expr.start) if expr.start is not None else "0"
            length = self.expr(expr.length) if expr.length is not None else "None"
            return self.mark(expr, f"F_slice({self.expr(expr.obj)}, {start}, {length})")
        if isinstance(expr, n.ArrayLit):
            return "[" + "".join(f"{self.expr(item)}, " for item in expr.items) + "]"
        if isinstance(expr, n.HashLit):
            return self.hash_(expr)
        if isinstance(expr, n.Unary):
            if expr.op == "not":
                return f"(not {self.cond(expr.operand)})"
            if expr.op == "-":
                return self.mark(expr, f"_neg({self.expr(expr.operand)})")
            return self.mark(expr, f"_num({self.expr(expr.operand)})")
        if isinstance(expr, n.Binary):
            return self.binary(expr)
        if isinstance(expr, n.Cond):
            return self.conditional(expr)
        if isinstance(expr, n.Filter):
            return self.filter_(expr)
        if isinstance(expr, n.Func):
            if expr.name == "block":
                return self.block_call(expr)
            return self.call(expr, lib.FUNCTIONS[expr.name], f"FN_{expr.name}", [], expr.args, expr.kwargs)
        if isinstance(expr, n.Test):
            return self.test(expr)
        if isinstance(expr, n.Arrow):
            return self.arrow(expr)
        if isinstance(expr, n.MacroCall):
            return self.macro_call(expr)
        raise TemplateSyntaxError(f"cannot compile {type(expr).__name__}", line=expr.line, column=expr.col)

    def name_(self, expr: n.Name) -> str:
        local = self.locals.get(expr.name)
        if local is not None:
            return local
        if expr.name == "_self":
            return repr(self.name)
        if expr.name == "_charset":
            return "'UTF-8'"
        key = repr(expr.name)
        if self.strict:
            return self.mark(
                expr, f"({self.ctx}[{key}] if {key} in {self.ctx} else _undef(_R, {key}, {self.ctx}))"
            )
        return f"{self.ctx}.get({key})"

    def getattr_(self, expr: n.GetAttr) -> str:
        obj = self.expr(expr.obj)
        if (
            isinstance(expr.key, n.Const)
            and isinstance(expr.key.value, str | int)
            and not isinstance(expr.key.value, bool)
        ):
            key = repr(expr.key.value)
            temp = self.fresh("_t")
            if self.strict:
                # Marked again so a failing lookup reports this node, not the last nested one.
                slow = self.mark(expr, f"_gas(_R, {temp}, {key}, {path_of(expr.obj)!r}, {expr.dot})")
            else:
                slow = f"_ga({temp}, {key})"
            return self.mark(
                expr, f"({temp}[{key}] if _type({temp} := {obj}) is _dict and {key} in {temp} else {slow})"
            )
        key = self.expr(expr.key)
        if self.strict:
            return self.mark(expr, f"_gas(_R, {obj}, {key}, {path_of(expr.obj)!r}, {expr.dot})")
        return self.mark(expr, f"_ga({obj}, {key})")

    def defined(self, expr: n.Expr) -> str:
        """``expr`` evaluated the way ``is defined``/``??``/``default`` need: MISSING, no error."""
        if isinstance(expr, n.Name):
            if expr.name in self.locals:
                return self.locals[expr.name]
            if expr.name in ("_self", "_charset"):
                return self.name_(expr)
            return f"{self.ctx}.get({expr.name!r}, MISSING)"
        if isinstance(expr, n.GetAttr):
            obj = self.defined(expr.obj)
            if isinstance(expr.key, n.Const) and type(expr.key.value) in (str, int):
                # Present key of a plain dict inline, as in getattr_; _gad for everything else.
                key = repr(expr.key.value)
                temp = self.fresh("_t")
                return self.mark(
                    expr,
                    f"({temp}[{key}] if _type({temp} := {obj}) is _dict and {key} in {temp} else _gad({temp}, {key}))",
                )
            return self.mark(expr, f"_gad({obj}, {self.expr(expr.key)})")
        return self.expr(expr)

    def coalesce_test(self, left: n.Expr, temp: str) -> str:
        if isinstance(left, n.Name | n.GetAttr):
            return f"(({temp} := {self.defined(left)}) is not None and {temp} is not MISSING)"
        return f"(({temp} := {self.expr(left)}) is not None)"

    def hash_(self, expr: n.HashLit) -> str:
        simple = all(
            isinstance(key, n.Const)
            and isinstance(key.value, str)
            and v.normalize_key(key.value) == key.value
            for key, _ in expr.pairs
        )
        if simple:
            body = "".join(f"{const(key.value)}: {self.expr(value)}, " for key, value in expr.pairs)  # type: ignore[attr-defined]
            return "{" + body + "}"
        body = "".join(f"({self.expr(key)}, {self.expr(value)}), " for key, value in expr.pairs)
        return self.mark(expr, f"_hash(({body}))")

    def binary(self, expr: n.Binary) -> str:
        op = expr.op
        if op == "and":
            return f"({self.cond(expr.left)} and {self.cond(expr.right)})"
        if op == "or":
            return f"({self.cond(expr.left)} or {self.cond(expr.right)})"
        if op == "xor":
            return f"({self.cond(expr.left)} != {self.cond(expr.right)})"
        code = BINARY_CODE.get(op)
        if code is not None:
            return self.mark(expr, code.format(l=self.expr(expr.left), r=self.expr(expr.right)))
        raise TemplateSyntaxError(
            f'the "{op}" operator is not supported at line {expr.line}',
            line=expr.line,
            column=expr.col,
            name=self.name,
        )

    def conditional(self, expr: n.Cond) -> str:
        otherwise = self.expr(expr.otherwise)
        if expr.kind == "ternary":
            return f"({self.expr(expr.then)} if {self.cond(expr.test)} else {otherwise})"
        temp = self.fresh("_v")
        if expr.kind == "elvis":
            return f"({temp} if _tr({temp} := {self.expr(expr.test)}) else {otherwise})"
        return f"({temp} if {self.coalesce_test(expr.test, temp)} else {otherwise})"

    def filter_(self, expr: n.Filter) -> str:
        name = expr.name
        if name == "raw":
            return self.expr(expr.node)
        if name == "default":
            fallback = (
                self.expr(expr.args[0])
                if expr.args
                else self.expr(expr.kwargs.get("default", n.Const(value="")))
            )
            temp = self.fresh("_v")
            if isinstance(expr.node, n.Name | n.GetAttr):
                value = self.defined(expr.node)
            else:
                value = self.expr(expr.node)
            return f"({temp} if not _empty({temp} := {value}) else {fallback})"
        spec = lib.FILTERS[name]
        node_code = self.expr(expr.node)
        if (
            name == "number_format"
            and not spec.pre_escape
            and not expr.kwargs
            and constant_number_format(expr.args)
        ):
            # The usual number_format(2, ',', ' '): f_number_format would only check the types
            # of these constants and pass them on, so skip it.
            args = ", ".join(repr(arg.value) for arg in expr.args)  # type: ignore[attr-defined]
            return self.mark(expr, f"_nf({node_code}, {args})")
        # Twig pre-escapes (nl2br) whether or not autoescape is on: the filter's output is HTML.
        if spec.pre_escape and not self.is_safe(expr.node, spec.pre_escape):
            node_code = f"_esc({node_code}, {spec.pre_escape!r})"
        return self.call(expr, spec, f"F_{name}", [node_code], expr.args, expr.kwargs)

    def call(
        self,
        expr: n.Expr,
        spec: lib.Spec,
        function: str,
        leading: list[str],
        args: list[n.Expr],
        kwargs: dict[str, n.Expr],
    ) -> str:
        parts = (["_R"] if spec.needs_rt else []) + leading + [self.expr(arg) for arg in args]
        accepts_varargs = any(p.kind is p.VAR_POSITIONAL for p in _signature(spec.fn))
        if len(args) > len(spec.params) and not accepts_varargs:
            raise TemplateSyntaxError(
                f"too many arguments for {describe(expr)} at line {expr.line}",
                line=expr.line,
                column=expr.col,
                name=self.name,
            )
        for key, value in kwargs.items():
            python_name = lib.PARAM_ALIASES.get(key.lower().replace("_", ""), key)
            if python_name not in spec.params:
                raise TemplateSyntaxError(
                    f'{describe(expr)} has no argument named "{key}" at line {expr.line}',
                    line=expr.line,
                    column=expr.col,
                    name=self.name,
                )
            parts.append(f"{python_name}={self.expr(value)}")
        return self.mark(expr, f"{function}({', '.join(parts)})")

    def test(self, expr: n.Test) -> str:
        if expr.name == "defined":
            node = expr.node
            if isinstance(node, n.Const | n.ArrayLit | n.HashLit):
                code = "True"
            elif isinstance(node, n.Name | n.GetAttr):
                code = f"({self.defined(node)} is not MISSING)"
            else:
                raise TemplateSyntaxError(
                    f'the "defined" test only works with simple variables at line {expr.line}',
                    line=expr.line,
                    column=expr.col,
                    name=self.name,
                )
        else:
            spec = lib.TESTS[expr.name]
            code = self.call(
                expr, spec, f"T_{expr.name.replace(' ', '_')}", [self.expr(expr.node)], expr.args, {}
            )
        return f"(not {code})" if expr.negated else code

    def arrow(self, expr: n.Arrow) -> str:
        saved = dict(self.locals)
        params = []
        for param in expr.params:
            local = self.fresh("_a")
            self.locals[param] = local
            params.append(f"{local}=None")
        body = self.expr(expr.body)
        self.locals = saved
        return f"_arrow(lambda {', '.join([*params, '*_rest'])}: {body})"

    def macro_call(self, expr: n.MacroCall) -> str:
        macro = self.template.macros.get(expr.macro)
        if macro is None:
            raise TemplateSyntaxError(
                f'macro "{expr.macro}" is not defined in this template at line {expr.line}',
                line=expr.line,
                column=expr.col,
                name=self.name,
            )
        params = tuple(param for param, _ in macro.params)
        args = "[" + "".join(f"{self.expr(arg)}, " for arg in expr.args) + "]"
        kwargs = "{" + "".join(f"{key!r}: {self.expr(value)}, " for key, value in expr.kwargs.items()) + "}"
        function = self.macro_function_name(macro.name)
        return self.mark(expr, f"_macro(_R, {function}, {params!r}, {args}, {kwargs}, {macro.name!r})")

    def macro_function_name(self, name: str) -> str:
        # Numbered, not named after the macro: Twig names allow characters Python names do not.
        return f"_m{list(self.template.macros).index(name)}"


def _signature(fn: Any) -> Iterator[Any]:
    import inspect

    return iter(inspect.signature(fn).parameters.values())


def describe(expr: n.Expr) -> str:
    if isinstance(expr, n.Filter):
        return f'the "{expr.name}" filter'
    if isinstance(expr, n.Func):
        return f'the "{expr.name}" function'
    if isinstance(expr, n.Test):
        return f'the "{expr.name}" test'
    return "this call"


def const(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"_float({str(value)!r})"
    return repr(value)


def constant_number_format(args: list[n.Expr]) -> bool:
    """``number_format`` arguments that are an int and two strings, written as constants."""
    if len(args) != 3 or not all(isinstance(arg, n.Const) for arg in args):
        return False
    decimals, point, thousands = (arg.value for arg in args)  # type: ignore[attr-defined]
    return type(decimals) is int and type(point) is str and type(thousands) is str


def returns_bool(expr: n.Expr) -> bool:
    if isinstance(expr, n.Binary):
        return expr.op in BOOL_OPS
    if isinstance(expr, n.Unary):
        return expr.op == "not"
    if isinstance(expr, n.Test):
        return True
    return isinstance(expr, n.Const) and isinstance(expr.value, bool)


def path_of(expr: n.Expr) -> str:
    """How an expression reads in error messages: ``customer.address.city``."""
    if isinstance(expr, n.Name):
        return expr.name
    if isinstance(expr, n.GetAttr) and isinstance(expr.key, n.Const):
        prefix = path_of(expr.obj)
        key = expr.key.value
        if expr.dot:
            return f"{prefix}.{key}"
        return f"{prefix}[{key!r}]" if isinstance(key, str) else f"{prefix}[{key}]"
    return expr.src or "(expression)"


def walk(body: list[Any]) -> Iterator[Any]:
    """Every node (statements and expressions) under ``body``."""
    stack: list[Any] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if not isinstance(node, n.Node):
            continue
        yield node
        for slot in type(node).__slots__:
            value = getattr(node, slot, None)
            if isinstance(value, n.Node | list | tuple):
                stack.append(value)
            elif isinstance(value, dict):
                stack.extend(value.values())


def assigned_names(body: list[n.Node]) -> set[str]:
    names: set[str] = set()
    stack: list[Any] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, n.Set):
            names.update(node.targets)
        elif isinstance(node, n.SetCapture):
            names.add(node.target)
            stack.extend(node.body)
        elif isinstance(node, n.For):
            names.add(node.value_target)
            if node.key_target:
                names.add(node.key_target)
            stack.extend(node.body)
            stack.extend(node.otherwise or [])
        elif isinstance(node, n.If):
            for _, branch in node.branches:
                stack.extend(branch)
            stack.extend(node.otherwise or [])
        elif isinstance(node, n.Apply | n.Autoescape | n.Output):
            stack.extend(node.body)
    return names


def generate(
    template: n.Template, name: str, autoescape: str | None, strict: bool
) -> tuple[str, list[tuple[int, int]]]:
    return Generator(template, name, autoescape, strict).module()
