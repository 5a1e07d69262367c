"""Twig parser: tokens → AST (:mod:`mailcard.rendering.nodes`).

Operator precedences are Twig 3's (``or`` 10 … ``**`` 200, ``??`` 300), with ``is`` tests,
filters and attribute access as postfix operations, the ternary family at the lowest level and
arrow functions in arguments. Tags: ``if``, ``for``, ``set``, ``apply``, ``autoescape``,
``with``, ``macro``, ``import``/``from _self``, ``do``, ``spaceless``, ``block`` (rendered in
place) and ``verbatim`` (handled by the lexer). Tags that would load other templates are refused.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection

from mailcard.errors import TemplateSyntaxError
from mailcard.rendering import nodes as n
from mailcard.rendering.lexer import (
    BLOCK_END,
    BLOCK_START,
    EOF,
    NAME,
    NUMBER,
    OPERATOR,
    PUNCT,
    STRING,
    TEXT,
    VAR_END,
    VAR_START,
    Token,
    tokenize,
)

__all__ = ["MAX_DEPTH", "parse"]

MAX_DEPTH = 40  # nesting of expressions; keeps generated Python far from its parser limits
# Longest node text kept for messages (see Parser.node_src).
_SRC_LIMIT = 200
MAX_TAG_DEPTH = 30  # nesting of tags (Python allows 100 levels of indentation)

BINARY: dict[str, tuple[int, bool]] = {  # operator → (precedence, right associative)
    "or": (10, False),
    "xor": (12, False),
    "and": (15, False),
    "b-or": (16, False),
    "b-xor": (17, False),
    "b-and": (18, False),
    "==": (20, False),
    "!=": (20, False),
    "<=>": (20, False),
    "<": (20, False),
    ">": (20, False),
    ">=": (20, False),
    "<=": (20, False),
    "not in": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "starts with": (20, False),
    "ends with": (20, False),
    "has some": (20, False),
    "has every": (20, False),
    "===": (20, False),
    "!==": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "~": (40, False),
    "*": (60, False),
    "/": (60, False),
    "//": (60, False),
    "%": (60, False),
    "is": (100, False),
    "is not": (100, False),
    "**": (200, True),
    "??": (300, True),
}
UNARY = {"not": 50, "-": 200, "+": 200}  # - and + bind looser than ** (Twig 3: -2 ** 2 == -4)
TWO_WORD_TESTS = {"same": "as", "divisible": "by"}
ONE_ARG_TESTS = {"same as", "divisible by"}
LOADER_TAGS = {"include", "extends", "embed", "use", "sandbox", "import_file", "source"}


class Parser:
    def __init__(
        self,
        tokens: list[Token],
        source: str,
        name: str,
        filters: Collection[str],
        functions: Collection[str],
        tests: Collection[str],
    ) -> None:
        self.tokens = tokens
        self.index = 0
        self.source = source
        self.name = name
        self.filters = filters
        self.functions = functions
        self.tests = tests
        self.macros: dict[str, n.MacroDef] = {}
        self.blocks: dict[str, list[n.Node]] = {}
        self.macro_aliases: set[str] = set()  # {% import _self as forms %}
        self.function_aliases: dict[str, str] = {}  # {% from _self import input as field %}
        self.depth = 0
        self.tag_depth = 0
        self.tmp_counter = 0

    # ---------------------------------------------------------------------------- token stream

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if self.index < len(self.tokens) - 1:
            self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> TemplateSyntaxError:
        token = token or self.current
        return TemplateSyntaxError(
            f"{message} at line {token.line}, column {token.col}",
            line=token.line,
            column=token.col,
            name=self.name,
        )

    def describe(self, token: Token) -> str:
        if token.type == EOF:
            return "end of template"
        if token.type in (VAR_END, BLOCK_END):
            return "end of tag"
        if token.type == STRING:
            return "string"
        return f'"{token.value}"'

    def expect(self, type_: str, value: str | None = None, message: str | None = None) -> Token:
        token = self.current
        if not token.test(type_, value):
            wanted = f'"{value}"' if value else type_.replace("_", " ")
            raise self.error(message or f"expected {wanted} but found {self.describe(token)}", token)
        return self.advance()

    def accept(self, type_: str, value: str | None = None) -> Token | None:
        if self.current.test(type_, value):
            return self.advance()
        return None

    def node_src(self, start: Token) -> str:
        """The node's source text, for messages; the start of it when long. Every node of a long
        flat expression (``a and b and c ...``) starts where the first does: whole, their texts
        made parsing quadratic (a 300 KB expression took minutes and gigabytes)."""
        end = max(self.tokens[self.index - 1].end if self.index > 0 else start.end, start.pos)
        if end - start.pos > _SRC_LIMIT:
            return " ".join(self.source[start.pos : start.pos + _SRC_LIMIT].split()) + " …"
        return " ".join(self.source[start.pos : end].split())

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("the template is nested too deeply", token)

    # ---------------------------------------------------------------------------- statements

    def parse(self) -> n.Template:
        body, _ = self.subparse(())
        return n.Template(body=body, macros=self.macros, blocks=self.blocks, line=1, col=1)

    def subparse(self, end_tags: tuple[str, ...]) -> tuple[list[n.Node], str | None]:
        body: list[n.Node] = []
        while True:
            token = self.current
            if token.type == EOF:
                if end_tags:
                    raise self.error(f'unexpected end of template; expected "{end_tags[-1]}"', token)
                return body, None
            if token.type == TEXT:
                self.advance()
                body.append(n.Text(value=token.value, line=token.line, col=token.col))
            elif token.type == VAR_START:
                self.advance()
                expr = self.parse_expression()
                self.expect(VAR_END)
                body.append(n.Print(expr=expr, line=token.line, col=token.col))
            elif token.type == BLOCK_START:
                self.advance()
                tag = self.current
                if tag.type != NAME:
                    raise self.error("a block must start with a tag name", tag)
                if tag.value in end_tags:
                    self.advance()
                    return body, tag.value
                self.advance()
                statement = self.parse_tag(tag, end_tags)
                if statement is not None:
                    body.append(statement)
            else:  # pragma: no cover - the lexer only emits the types above here
                raise self.error(f"unexpected {self.describe(token)}", token)

    def parse_tag(self, tag: Token, end_tags: tuple[str, ...]) -> n.Node | None:
        handler: Callable[[Token], n.Node | None] | None = getattr(self, f"tag_{tag.value}", None)
        if handler is None:
            if tag.value in LOADER_TAGS:
                raise self.error(
                    f'the "{tag.value}" tag is not available: mailcard templates cannot load other templates',
                    tag,
                )
            if tag.value.startswith("end") or tag.value in ("else", "elseif"):
                expected = f' (expected "{end_tags[-1]}")' if end_tags else ""
                raise self.error(f'unexpected "{tag.value}" tag{expected}', tag)
            known = [name[4:] for name in dir(self) if name.startswith("tag_")]
            close = difflib.get_close_matches(tag.value, known, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            raise self.error(f'unknown "{tag.value}" tag{hint}', tag)
        self.tag_depth += 1
        if self.tag_depth > MAX_TAG_DEPTH:
            raise self.error("tags are nested too deeply", tag)
        try:
            return handler(tag)
        finally:
            self.tag_depth -= 1

    def end_block(self) -> None:
        self.expect(BLOCK_END)

    def tag_if(self, tag: Token) -> n.Node:
        branches: list[tuple[n.Expr, list[n.Node]]] = []
        condition = self.parse_expression()
        self.end_block()
        otherwise: list[n.Node] | None = None
        while True:
            body, end = self.subparse(("elseif", "else", "endif"))
            branches.append((condition, body))
            if end == "elseif":
                condition = self.parse_expression()
                self.end_block()
                continue
            if end == "else":
                self.end_block()
                otherwise, _ = self.subparse(("endif",))
            self.end_block()
            break
        return n.If(branches=branches, otherwise=otherwise, line=tag.line, col=tag.col)

    def tag_for(self, tag: Token) -> n.Node:
        first = self.assignment_target("expected a loop variable name")
        second = None
        if self.accept(PUNCT, ","):
            second = self.assignment_target("expected a second loop variable name")
        self.expect(OPERATOR, "in", message='expected "in" in the for tag')
        seq = self.parse_expression()
        condition = None
        if self.current.test(NAME, "if"):
            self.advance()
            condition = self.parse_expression()
        self.end_block()
        body, end = self.subparse(("else", "endfor"))
        otherwise = None
        if end == "else":
            self.end_block()
            otherwise, _ = self.subparse(("endfor",))
        self.end_block()
        key, value = (first, second) if second is not None else (None, first)
        return n.For(
            key_target=key,
            value_target=value,
            seq=seq,
            body=body,
            otherwise=otherwise,
            condition=condition,
            line=tag.line,
            col=tag.col,
        )

    def assignment_target(self, message: str) -> str:
        """A name to assign to; Twig refuses its constants (``true``, ``false``, ``none``, ``null``)."""
        token = self.expect(NAME, message=message)
        if token.value.lower() in ("true", "false", "none", "null"):
            raise self.error(f'you cannot assign a value to "{token.value}"', token)
        return str(token.value)

    def tag_set(self, tag: Token) -> n.Node:
        targets = [self.assignment_target("expected a variable name")]
        while self.accept(PUNCT, ","):
            targets.append(self.assignment_target("expected a variable name"))
        if self.accept(OPERATOR, "="):
            values = [self.parse_expression()]
            while self.accept(PUNCT, ","):
                values.append(self.parse_expression())
            self.end_block()
            if len(values) != len(targets):
                raise self.error(
                    "when using set, you must have the same number of variables and assignments", tag
                )
            return n.Set(targets=targets, values=values, line=tag.line, col=tag.col)
        if len(targets) > 1:
            raise self.error("when using set with a block, you cannot have a multi-target", tag)
        self.end_block()
        body, _ = self.subparse(("endset",))
        self.end_block()
        return n.SetCapture(target=targets[0], body=body, line=tag.line, col=tag.col)

    def _tmp_name(self) -> str:
        self.tmp_counter += 1
        # A NUL can never appear in a template identifier, so templates cannot reach it.
        return f"\x00tmp{self.tmp_counter}"

    def tag_apply(self, tag: Token) -> n.Node:
        tmp = self._tmp_name()
        chain: n.Expr = n.Name(name=tmp, line=tag.line, col=tag.col)
        chain = self.parse_filter_chain(chain, leading_pipe=False)
        self.end_block()
        body, _ = self.subparse(("endapply",))
        self.end_block()
        return n.Apply(tmp=tmp, chain=chain, body=body, line=tag.line, col=tag.col)

    def tag_filter(self, tag: Token) -> n.Node:
        tmp = self._tmp_name()
        chain = self.parse_filter_chain(n.Name(name=tmp, line=tag.line, col=tag.col), leading_pipe=False)
        self.end_block()
        body, _ = self.subparse(("endfilter",))
        self.end_block()
        return n.Apply(tmp=tmp, chain=chain, body=body, line=tag.line, col=tag.col)

    def tag_spaceless(self, tag: Token) -> n.Node:
        self.end_block()
        body, _ = self.subparse(("endspaceless",))
        self.end_block()
        tmp = self._tmp_name()
        chain = n.Filter(
            name="spaceless", node=n.Name(name=tmp, line=tag.line, col=tag.col), line=tag.line, col=tag.col
        )
        return n.Apply(tmp=tmp, chain=chain, body=body, line=tag.line, col=tag.col)

    def tag_autoescape(self, tag: Token) -> n.Node:
        strategy: str | None = "html"
        if not self.current.test(BLOCK_END):
            expr = self.parse_expression()
            if not isinstance(expr, n.Const) or not isinstance(expr.value, str | bool):
                raise self.error(
                    'an escaping strategy must be a string or false (e.g. {% autoescape "html" %})', tag
                )
            if expr.value is False:
                strategy = None
            elif expr.value is True:
                strategy = "html"
            else:
                strategy = str(expr.value)
                if strategy not in ("html", "js", "css", "url", "html_attr"):
                    raise self.error(f'unknown escaping strategy "{strategy}"', tag)
        self.end_block()
        body, _ = self.subparse(("endautoescape",))
        self.end_block()
        return n.Autoescape(strategy=strategy, body=body, line=tag.line, col=tag.col)

    def tag_with(self, tag: Token) -> n.Node:
        variables = None
        only = False
        if not self.current.test(BLOCK_END) and not self.current.test(NAME, "only"):
            variables = self.parse_expression()
        if self.accept(NAME, "only"):
            only = True
        self.end_block()
        body, _ = self.subparse(("endwith",))
        self.end_block()
        return n.With(variables=variables, only=only, body=body, line=tag.line, col=tag.col)

    def tag_do(self, tag: Token) -> n.Node:
        expr = self.parse_expression()
        self.end_block()
        return n.Do(expr=expr, line=tag.line, col=tag.col)

    def tag_flush(self, tag: Token) -> None:
        self.end_block()

    def tag_deprecated(self, tag: Token) -> None:
        self.parse_expression()
        while not self.current.test(BLOCK_END) and self.current.type != EOF:
            self.advance()
        self.end_block()

    def tag_block(self, tag: Token) -> n.Node:
        # Without inheritance a block renders in place; block('name') renders it again.
        name = self.expect(NAME, message="expected a block name").value
        if name in self.blocks:
            raise self.error(f'the block "{name}" has already been defined', tag)
        self.blocks[name] = []  # reserved now: a block inside itself is a duplicate too
        if not self.current.test(BLOCK_END):
            expr = self.parse_expression()  # {% block title "text" %} shorthand
            self.end_block()
            body: list[n.Node] = [n.Print(expr=expr, line=tag.line, col=tag.col)]
        else:
            self.end_block()
            body, _ = self.subparse(("endblock",))
            self.accept(NAME)
            self.end_block()
        self.blocks[name] = body
        return n.Output(body=body, line=tag.line, col=tag.col)

    def tag_macro(self, tag: Token) -> None:
        name_token = self.expect(NAME, message="expected a macro name")
        name = name_token.value
        self.expect(PUNCT, "(")
        params: list[tuple[str, n.Expr | None]] = []
        while not self.current.test(PUNCT, ")"):
            if params:
                self.expect(PUNCT, ",")
                if self.current.test(PUNCT, ")"):
                    break
            param = self.expect(NAME, message="expected a macro argument name").value
            default: n.Expr | None = None
            if self.accept(OPERATOR, "=") or self.accept(PUNCT, ":"):
                default = self.parse_expression()
                if not isinstance(default, n.Const | n.ArrayLit | n.HashLit | n.Unary):
                    raise self.error("a macro argument default must be a constant", name_token)
            params.append((param, default))
        self.expect(PUNCT, ")")
        self.end_block()
        body, _ = self.subparse(("endmacro",))
        if self.current.type == NAME:
            self.advance()
        self.end_block()
        if name in self.macros:
            raise self.error(f'the macro "{name}" is defined twice', name_token)
        self.macros[name] = n.MacroDef(name=name, params=params, body=body, line=tag.line, col=tag.col)
        return None

    def _expect_self(self) -> None:
        token = self.current
        if token.test(NAME, "_self"):
            self.advance()
            return
        raise self.error("only macros of the same template can be imported (use _self)", token)

    def tag_import(self, tag: Token) -> None:
        self._expect_self()
        self.expect(NAME, "as", message='expected "as" in the import tag')
        alias = self.expect(NAME, message="expected an alias name").value
        self.end_block()
        self.macro_aliases.add(alias)
        return None

    def tag_from(self, tag: Token) -> None:
        self._expect_self()
        self.expect(NAME, "import", message='expected "import" in the from tag')
        while True:
            macro = self.expect(NAME, message="expected a macro name").value
            alias = macro
            if self.accept(NAME, "as"):
                alias = self.expect(NAME, message="expected an alias name").value
            self.function_aliases[alias] = macro
            if not self.accept(PUNCT, ","):
                break
        self.end_block()
        return None

    # ---------------------------------------------------------------------------- expressions

    def parse_expression(self, precedence: int = 0) -> n.Expr:
        start = self.current
        self.enter(start)
        try:
            expr = self.parse_unary()
            while True:
                token = self.current
                if token.type != OPERATOR or token.value not in BINARY:
                    break
                op_precedence, right_assoc = BINARY[token.value]
                if op_precedence < precedence:
                    break
                self.advance()
                if token.value in ("is", "is not"):
                    expr = self.parse_test(expr, token.value == "is not", start)
                    continue
                right = self.parse_expression(op_precedence if right_assoc else op_precedence + 1)
                expr = self.make_binary(token, expr, right, start)
            if precedence == 0:
                expr = self.parse_conditional(expr, start)
            return expr
        finally:
            self.depth -= 1

    def make_binary(self, op: Token, left: n.Expr, right: n.Expr, start: Token) -> n.Expr:
        src = self.node_src(start)
        line, col = op.line, op.col
        if op.value == "..":
            return n.Func(name="range", args=[left, right], src=src, line=line, col=col)
        if op.value == "??":
            return n.Cond(kind="coalesce", test=left, then=left, otherwise=right, src=src, line=line, col=col)
        if op.value == "not in":
            inner = n.Binary(op="in", left=left, right=right, src=src, line=line, col=col)
            return n.Unary(op="not", operand=inner, src=src, line=line, col=col)
        return n.Binary(op=op.value, left=left, right=right, src=src, line=line, col=col)

    def parse_conditional(self, expr: n.Expr, start: Token) -> n.Expr:
        while self.current.test(PUNCT, "?"):
            question = self.advance()
            if self.accept(PUNCT, ":"):
                otherwise = self.parse_expression()
                expr = n.Cond(
                    kind="elvis",
                    test=expr,
                    then=expr,
                    otherwise=otherwise,
                    src=self.node_src(start),
                    line=question.line,
                    col=question.col,
                )
                continue
            then = self.parse_expression()
            if self.accept(PUNCT, ":"):
                otherwise = self.parse_expression()
            else:
                otherwise = n.Const(value="", line=question.line, col=question.col)
            expr = n.Cond(
                kind="ternary",
                test=expr,
                then=then,
                otherwise=otherwise,
                src=self.node_src(start),
                line=question.line,
                col=question.col,
            )
        return expr

    def parse_unary(self) -> n.Expr:
        token = self.current
        if token.type == OPERATOR and token.value in UNARY:
            self.advance()
            operand = self.parse_expression(UNARY[token.value])
            expr: n.Expr = n.Unary(
                op=token.value, operand=operand, src=self.node_src(token), line=token.line, col=token.col
            )
            return self.parse_postfix(expr, token)
        if token.test(PUNCT, "("):
            arrow = self.try_arrow()
            if arrow is not None:
                return arrow
            self.advance()
            expr = self.parse_expression()
            self.expect(PUNCT, ")", "an opened parenthesis is not properly closed")
            if isinstance(expr, n.Expr):
                expr.src = self.node_src(token)
            return self.parse_postfix(expr, token)
        return self.parse_primary()

    def try_arrow(self) -> n.Arrow | None:
        """``(a, b) => expr`` starting at the current ``(``, or None when it is not an arrow."""
        index = self.index + 1
        params: list[str] = []
        while True:
            token = self.tokens[index]
            if token.test(PUNCT, ")") and not params:
                break
            if token.type != NAME:
                return None
            params.append(token.value)
            index += 1
            if self.tokens[index].test(PUNCT, ","):
                index += 1
                continue
            if self.tokens[index].test(PUNCT, ")"):
                break
            return None
        if not self.tokens[index + 1].test(PUNCT, "=>"):
            return None
        start = self.current
        self.index = index + 2
        body = self.parse_expression()
        return n.Arrow(params=params, body=body, src=self.node_src(start), line=start.line, col=start.col)

    def parse_primary(self) -> n.Expr:
        token = self.current
        if token.type == NAME:
            self.advance()
            value = token.value
            if value in ("true", "TRUE"):
                return self.parse_postfix(
                    n.Const(value=True, src=value, line=token.line, col=token.col), token
                )
            if value in ("false", "FALSE"):
                return self.parse_postfix(
                    n.Const(value=False, src=value, line=token.line, col=token.col), token
                )
            if value in ("null", "NULL", "none", "NONE"):
                return self.parse_postfix(
                    n.Const(value=None, src=value, line=token.line, col=token.col), token
                )
            if self.current.test(PUNCT, "=>"):
                self.advance()
                body = self.parse_expression()
                return n.Arrow(
                    params=[value], body=body, src=self.node_src(token), line=token.line, col=token.col
                )
            if self.current.test(PUNCT, "("):
                args, kwargs = self.parse_arguments()
                call: n.Expr
                if value in self.function_aliases:
                    call = n.MacroCall(
                        macro=self.function_aliases[value],
                        args=args,
                        kwargs=kwargs,
                        src=self.node_src(token),
                        line=token.line,
                        col=token.col,
                    )
                else:
                    if value != "block":  # block() is the template's own: compiled apart
                        self.check_known(value, self.functions, "function", token)
                    call = n.Func(
                        name=value,
                        args=args,
                        kwargs=kwargs,
                        src=self.node_src(token),
                        line=token.line,
                        col=token.col,
                    )
                return self.parse_postfix(call, token)
            return self.parse_postfix(n.Name(name=value, src=value, line=token.line, col=token.col), token)
        if token.type == NUMBER:
            self.advance()
            return self.parse_postfix(
                n.Const(value=token.value, src=self.node_src(token), line=token.line, col=token.col), token
            )
        if token.type == STRING:
            self.advance()
            return self.parse_postfix(self.string_expr(token), token)
        if token.test(PUNCT, "["):
            return self.parse_postfix(self.parse_array(), token)
        if token.test(PUNCT, "{"):
            return self.parse_postfix(self.parse_hash(), token)
        raise self.error(f"unexpected {self.describe(token)}", token)

    def string_expr(self, token: Token) -> n.Expr:
        parts: list[n.Expr] = []
        for part in token.parts:
            if isinstance(part, str):
                parts.append(n.Const(value=part, line=token.line, col=token.col))
            else:
                sub = Parser(part, self.source, self.name, self.filters, self.functions, self.tests)
                sub.macro_aliases = self.macro_aliases
                sub.function_aliases = self.function_aliases
                sub.depth = self.depth
                expr = sub.parse_expression()
                if sub.current.type != EOF:
                    raise sub.error(f"unexpected {sub.describe(sub.current)} in string interpolation")
                parts.append(expr)
        if len(parts) == 1 and isinstance(parts[0], n.Const):
            parts[0].src = self.node_src(token)
            return parts[0]
        expr = parts[0]
        if not isinstance(expr, n.Const):
            # "#{x}" alone is still a string: concatenate with '' like Twig.
            expr = n.Binary(
                op="~",
                left=n.Const(value="", line=token.line, col=token.col),
                right=expr,
                line=token.line,
                col=token.col,
            )
        for part in parts[1:]:
            expr = n.Binary(op="~", left=expr, right=part, line=token.line, col=token.col)
        expr.src = self.node_src(token)
        return expr

    def parse_array(self) -> n.Expr:
        start = self.expect(PUNCT, "[")
        items: list[n.Expr] = []
        while not self.current.test(PUNCT, "]"):
            if items:
                self.expect(PUNCT, ",", "an array element must be followed by a comma")
                if self.current.test(PUNCT, "]"):
                    break
            items.append(self.parse_expression())
        self.expect(PUNCT, "]", "an opened array is not properly closed")
        return n.ArrayLit(items=items, src=self.node_src(start), line=start.line, col=start.col)

    def parse_hash(self) -> n.Expr:
        start = self.expect(PUNCT, "{")
        pairs: list[tuple[n.Expr, n.Expr]] = []
        while not self.current.test(PUNCT, "}"):
            if pairs:
                self.expect(PUNCT, ",", "a hash value must be followed by a comma")
                if self.current.test(PUNCT, "}"):
                    break
            token = self.current
            key: n.Expr
            if token.type == NAME:
                self.advance()
                key = n.Const(value=token.value, line=token.line, col=token.col)
                if self.current.test(PUNCT, ",") or self.current.test(PUNCT, "}"):
                    pairs.append(
                        (key, n.Name(name=token.value, src=token.value, line=token.line, col=token.col))
                    )
                    continue
            elif token.type == STRING:
                self.advance()
                key = self.string_expr(token)
            elif token.type == NUMBER:
                self.advance()
                key = n.Const(value=token.value, line=token.line, col=token.col)
            elif token.test(PUNCT, "("):
                self.advance()
                key = self.parse_expression()
                self.expect(PUNCT, ")")
            else:
                raise self.error(
                    f"a hash key must be a quoted string, a number, a name, or an expression in parentheses, "
                    f"not {self.describe(token)}",
                    token,
                )
            self.expect(PUNCT, ":", "a hash key must be followed by a colon (:)")
            pairs.append((key, self.parse_expression()))
        self.expect(PUNCT, "}", "an opened hash is not properly closed")
        return n.HashLit(pairs=pairs, src=self.node_src(start), line=start.line, col=start.col)

    def parse_postfix(self, expr: n.Expr, start: Token) -> n.Expr:
        steps = 0
        while True:
            token = self.current
            steps += 1
            if steps > MAX_DEPTH:
                raise self.error("too many filters or attributes in one expression", token)
            if token.test(PUNCT, "."):
                self.advance()
                expr = self.parse_dot(expr, start, token)
            elif token.test(PUNCT, "["):
                self.advance()
                expr = self.parse_subscript(expr, start, token)
            elif token.test(PUNCT, "|"):
                expr = self.parse_filter_chain(expr, leading_pipe=True, start=start)
            else:
                return expr

    def parse_dot(self, expr: n.Expr, start: Token, dot: Token) -> n.Expr:
        token = self.advance()
        if token.type == NUMBER:
            # As in Twig, items.0.1 is items[0.1], which PHP reads as items[0] (a float key is
            # truncated to an integer); it is not items[0][1].
            key: object = token.value
        elif token.type in (NAME, OPERATOR) and str(token.value).replace(" ", "").isidentifier():
            key = token.value
        else:
            raise self.error("expected an attribute name after the dot", token)
        if self.current.test(PUNCT, "("):
            if isinstance(expr, n.Name) and expr.name in self.macro_aliases:
                args, kwargs = self.parse_arguments()
                return n.MacroCall(
                    macro=str(key),
                    args=args,
                    kwargs=kwargs,
                    src=self.node_src(start),
                    line=token.line,
                    col=token.col,
                )
            raise self.error("calling methods is not supported in mailcard templates", token)
        return n.GetAttr(
            obj=expr,
            key=n.Const(value=key),
            dot=True,
            src=self.node_src(start),
            line=start.line,
            col=start.col,
        )

    def parse_subscript(self, expr: n.Expr, start: Token, bracket: Token) -> n.Expr:
        slice_start: n.Expr | None = None
        if not self.current.test(PUNCT, ":"):
            slice_start = self.parse_expression()
        if self.accept(PUNCT, ":"):
            length = None if self.current.test(PUNCT, "]") else self.parse_expression()
            self.expect(PUNCT, "]")
            return n.Slice(
                obj=expr,
                start=slice_start,
                length=length,
                src=self.node_src(start),
                line=bracket.line,
                col=bracket.col,
            )
        self.expect(PUNCT, "]")
        assert slice_start is not None
        return n.GetAttr(
            obj=expr, key=slice_start, dot=False, src=self.node_src(start), line=start.line, col=start.col
        )

    def parse_filter_chain(self, expr: n.Expr, *, leading_pipe: bool, start: Token | None = None) -> n.Expr:
        first = True
        while True:
            if (leading_pipe or not first) and not self.accept(PUNCT, "|"):
                return expr
            first = False
            token = self.expect(NAME, message="expected a filter name")
            self.check_known(token.value, self.filters, "filter", token)
            args: list[n.Expr] = []
            kwargs: dict[str, n.Expr] = {}
            if self.current.test(PUNCT, "("):
                args, kwargs = self.parse_arguments()
            src = self.node_src(start) if start is not None else expr.src
            expr = n.Filter(
                name=token.value, node=expr, args=args, kwargs=kwargs, src=src, line=token.line, col=token.col
            )
            if not leading_pipe and not self.current.test(PUNCT, "|"):
                return expr

    def parse_arguments(self) -> tuple[list[n.Expr], dict[str, n.Expr]]:
        self.expect(PUNCT, "(")
        args: list[n.Expr] = []
        kwargs: dict[str, n.Expr] = {}
        count = 0
        while not self.current.test(PUNCT, ")"):
            if count:
                self.expect(PUNCT, ",", "arguments must be separated by a comma")
                if self.current.test(PUNCT, ")"):
                    break
            count += 1
            token = self.current
            following = self.peek()
            if token.type == NAME and (following.test(OPERATOR, "=") or following.test(PUNCT, ":")):
                self.advance()
                self.advance()
                kwargs[token.value] = self.parse_expression()
                continue
            if kwargs:
                raise self.error("positional arguments cannot be used after named arguments", token)
            args.append(self.parse_expression())
        self.expect(PUNCT, ")", "an opened parenthesis is not properly closed")
        return args, kwargs

    def parse_test(self, expr: n.Expr, negated: bool, start: Token) -> n.Expr:
        token = self.expect(NAME, message='expected a test name after "is"')
        name = token.value
        second = TWO_WORD_TESTS.get(name)
        if second is not None and self.current.test(NAME, second):
            self.advance()
            name = f"{name} {second}"
        self.check_known(name, self.tests, "test", token)
        args: list[n.Expr] = []
        if self.current.test(PUNCT, "("):
            args, kwargs = self.parse_arguments()
            args.extend(kwargs.values())
        elif name in ONE_ARG_TESTS:
            args = [self.parse_unary()]
        return n.Test(
            name=name,
            node=expr,
            args=args,
            negated=negated,
            src=self.node_src(start),
            line=token.line,
            col=token.col,
        )

    def check_known(self, name: str, known: Collection[str], kind: str, token: Token) -> None:
        if name in known:
            return
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        raise self.error(f'unknown "{name}" {kind}{hint}', token)


def parse(
    source: str,
    name: str,
    filters: Collection[str],
    functions: Collection[str],
    tests: Collection[str],
) -> tuple[n.Template, str]:
    """Parse ``source``; returns the AST and the normalised source it points into."""
    tokens, normalised = tokenize(source, name)
    parser = Parser(tokens, normalised, name, filters, functions, tests)
    return parser.parse(), normalised
