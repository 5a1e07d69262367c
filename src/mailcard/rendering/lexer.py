"""Twig lexer: template source → tokens, with Twig 3's whitespace rules.

Mirrors ``Twig\\Lexer``: ``{{ }}``, ``{% %}``, ``{# #}``, the ``-`` (trim all whitespace) and
``~`` (trim spaces and tabs, keep newlines) modifiers, the single newline eaten after ``%}`` and
``#}``, ``verbatim`` blocks, and ``#{...}`` interpolation inside double-quoted strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mailcard.errors import TemplateSyntaxError

__all__ = ["Token", "tokenize"]

TEXT = "text"
VAR_START = "var_start"
VAR_END = "var_end"
BLOCK_START = "block_start"
BLOCK_END = "block_end"
NAME = "name"
NUMBER = "number"
STRING = "string"
OPERATOR = "operator"
PUNCT = "punct"
EOF = "eof"

_WS = " \t\n\r\x0b\x0c"
_LINE_WS = " \t\x00\x0b"


@dataclass(slots=True)
class Token:
    type: str
    value: Any
    pos: int
    line: int
    col: int
    end: int = 0
    # For strings: parts, each a str or a list of tokens (an interpolated expression).
    parts: list[Any] = field(default_factory=list)

    def test(self, type_: str, value: Any = None) -> bool:
        if self.type != type_:
            return False
        if value is None:
            return True
        if isinstance(value, tuple):
            return bool(self.value in value)
        return bool(self.value == value)


_OPERATORS = [
    "starts with",
    "ends with",
    "has some",
    "has every",
    "not in",
    "is not",
    "matches",
    "b-and",
    "b-xor",
    "b-or",
    "<=>",
    "===",
    "!==",
    "not",
    "and",
    "xor",
    "==",
    "!=",
    ">=",
    "<=",
    "//",
    "**",
    "??",
    "..",
    "or",
    "in",
    "is",
    "<",
    ">",
    "+",
    "-",
    "~",
    "*",
    "/",
    "%",
    "=",
]


def _operator_regex() -> re.Pattern[str]:
    parts = []
    for op in sorted(_OPERATORS, key=len, reverse=True):
        pattern = re.escape(op)
        if op[-1].isalpha():
            pattern += r"(?=[\s()\[{])"
        if op[0].isalpha():
            pattern = r"(?<![.|])" + pattern
        pattern = pattern.replace(r"\ ", r"\s+")
        parts.append(pattern)
    return re.compile("|".join(parts))


_OPERATOR_RE = _operator_regex()
_NAME_RE = re.compile(r"[a-zA-Z_\x7f-\U0010ffff][a-zA-Z0-9_\x7f-\U0010ffff]*")
_NUMBER_RE = re.compile(r"[0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?(?:[eE][+-]?[0-9]+)?")
_SQ_STRING_RE = re.compile(r"'([^'\\]*(?:\\.[^'\\]*)*)'", re.S)
_START_RE = re.compile(r"(\{\{|\{%|\{#)([-~]?)")
_VAR_END_RE = re.compile(r"[ \t\n\r\x0b\x0c]*(?:-\}\}[ \t\n\r\x0b\x0c]*|~\}\}[ \t\x00\x0b]*|\}\})")
_BLOCK_END_RE = re.compile(r"[ \t\n\r\x0b\x0c]*(?:-%\}[ \t\n\r\x0b\x0c]*\n?|~%\}[ \t\x00\x0b]*|%\}\n?)")
_COMMENT_END_RE = re.compile(r"(?:-#\}[ \t\n\r\x0b\x0c]*\n?|~#\}[ \t\x00\x0b]*|#\}\n?)")
_VERBATIM_RE = re.compile(
    r"[ \t\n\r\x0b\x0c]*(?:verbatim|raw)[ \t\n\r\x0b\x0c]*(?:-%\}[ \t\n\r\x0b\x0c]*|~%\}[ \t\x00\x0b]*|%\})"
)
_ENDVERBATIM_RE = re.compile(
    r"\{%([-~]?)[ \t\n\r\x0b\x0c]*end(?:verbatim|raw)[ \t\n\r\x0b\x0c]*"
    r"(?:-%\}[ \t\n\r\x0b\x0c]*|~%\}[ \t\x00\x0b]*|%\})"
)
_PUNCTUATION = "()[]{}?:.,|"
_CLOSERS = {"(": ")", "[": "]", "{": "}"}

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\x0b", "f": "\x0c", "a": "\x07", "b": "\x08", "e": "\x1b"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)", re.S)


def unescape(text: str) -> str:
    """PHP ``stripcslashes``, which Twig applies to string literals."""
    if "\\" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        seq = match.group(1)
        if seq[0] == "x" and len(seq) > 1:
            return chr(int(seq[1:], 16))
        if seq[0] in "01234567":
            return chr(int(seq, 8) & 0xFF)
        return _ESCAPES.get(seq, seq)

    return _ESCAPE_RE.sub(replace, text)


class _Lexer:
    def __init__(self, source: str, name: str) -> None:
        self.source = source.replace("\r\n", "\n").replace("\r", "\n")
        self.name = name
        self.tokens: list[Token] = []
        self._line_starts = [0]
        for match in re.finditer("\n", self.source):
            self._line_starts.append(match.end())

    def where(self, pos: int) -> tuple[int, int]:
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, pos - self._line_starts[lo] + 1

    def error(self, message: str, pos: int) -> TemplateSyntaxError:
        line, col = self.where(pos)
        return TemplateSyntaxError(
            f"{message} at line {line}, column {col}", line=line, column=col, name=self.name
        )

    def token(self, type_: str, value: Any, pos: int, end: int = 0) -> Token:
        line, col = self.where(pos)
        return Token(type_, value, pos, line, col, end or pos)

    def run(self) -> list[Token]:
        src = self.source
        pos = 0
        n = len(src)
        while pos < n:
            match = _START_RE.search(src, pos)
            if match is None:
                self.tokens.append(self.token(TEXT, src[pos:], pos))
                break
            text = src[pos : match.start()]
            trim = match.group(2)
            if trim == "-":
                text = text.rstrip(" \t\n\r\x00\x0b")
            elif trim == "~":
                text = text.rstrip(_LINE_WS)
            if text:
                self.tokens.append(self.token(TEXT, text, pos))
            kind = match.group(1)
            start = match.start()
            pos = match.end()
            if kind == "{#":
                end = _COMMENT_END_RE.search(src, pos)
                if end is None:
                    raise self.error("unclosed comment", start)
                pos = end.end()
            elif kind == "{%":
                verbatim = _VERBATIM_RE.match(src, pos)
                if verbatim is not None:
                    pos = self._verbatim(start, verbatim.end())
                    continue
                self.tokens.append(self.token(BLOCK_START, "{%", start, pos))
                pos = self._expression(pos, _BLOCK_END_RE, BLOCK_END, start)
            else:
                self.tokens.append(self.token(VAR_START, "{{", start, pos))
                pos = self._expression(pos, _VAR_END_RE, VAR_END, start)
        self.tokens.append(self.token(EOF, None, n))
        return self.tokens

    def _verbatim(self, start: int, pos: int) -> int:
        end = _ENDVERBATIM_RE.search(self.source, pos)
        if end is None:
            raise self.error('unclosed "verbatim" block', start)
        text = self.source[pos : end.start()]
        if end.group(1) == "-":
            text = text.rstrip(" \t\n\r\x00\x0b")
        elif end.group(1) == "~":
            text = text.rstrip(_LINE_WS)
        if text:
            self.tokens.append(self.token(TEXT, text, pos))
        return end.end()

    def _expression(self, pos: int, end_re: re.Pattern[str], end_type: str, start: int) -> int:
        tokens, pos = self.expression_tokens(pos, end_re=end_re, start=start)
        self.tokens.extend(tokens)
        match = end_re.match(self.source, pos)
        assert match is not None
        self.tokens.append(self.token(end_type, None, pos, match.end()))
        return match.end()

    def expression_tokens(
        self, pos: int, *, end_re: re.Pattern[str] | None = None, start: int = 0
    ) -> tuple[list[Token], int]:
        """Tokens from ``pos`` to the closing delimiter (or the ``}`` closing an interpolation)."""
        src = self.source
        n = len(src)
        brackets: list[tuple[str, int]] = []
        out: list[Token] = []
        while True:
            if end_re is not None and not brackets and end_re.match(src, pos):
                return out, pos
            while pos < n and src[pos] in _WS:
                pos += 1
            if pos >= n:
                if end_re is None:
                    raise self.error("unclosed string interpolation", start)
                raise self.error('unclosed "{{" or "{%" tag', start)
            if end_re is not None and not brackets and end_re.match(src, pos):
                return out, pos
            char = src[pos]
            if end_re is None and not brackets and char == "}":
                return out, pos + 1
            if src.startswith("=>", pos):
                out.append(self.token(PUNCT, "=>", pos, pos + 2))
                pos += 2
                continue
            match = _OPERATOR_RE.match(src, pos)
            if match is not None:
                value = re.sub(r"\s+", " ", match.group(0))
                out.append(self.token(OPERATOR, value, pos, match.end()))
                pos = match.end()
                continue
            match = _NAME_RE.match(src, pos)
            if match is not None:
                out.append(self.token(NAME, match.group(0), pos, match.end()))
                pos = match.end()
                continue
            match = _NUMBER_RE.match(src, pos)
            if match is not None:
                text = match.group(0).replace("_", "")
                number: int | float
                if "." in text or "e" in text or "E" in text or len(text) > 19:
                    # PHP turns integers beyond PHP_INT_MAX into floats, and floats beyond the
                    # largest double into INF (float() of the text does both, never raising).
                    number = float(text)
                else:
                    number = int(text)
                    if number > 2**63 - 1:
                        number = float(text)
                out.append(self.token(NUMBER, number, pos, match.end()))
                pos = match.end()
                continue
            if char in _PUNCTUATION:
                if char in "([{":
                    brackets.append((char, pos))
                elif char in ")]}":
                    if not brackets:
                        raise self.error(f'unexpected "{char}"', pos)
                    opener, _ = brackets.pop()
                    if _CLOSERS[opener] != char:
                        raise self.error(f'unclosed "{opener}"', pos)
                out.append(self.token(PUNCT, char, pos, pos + 1))
                pos += 1
                continue
            if char == "'":
                match = _SQ_STRING_RE.match(src, pos)
                if match is None:
                    raise self.error("unclosed string", pos)
                token = self.token(STRING, None, pos, match.end())
                token.parts = [unescape(match.group(1))]
                out.append(token)
                pos = match.end()
                continue
            if char == '"':
                token, pos = self._double_quoted(pos)
                out.append(token)
                continue
            raise self.error(f'unexpected character "{char}"', pos)

    def _double_quoted(self, start: int) -> tuple[Token, int]:
        src = self.source
        n = len(src)
        pos = start + 1
        parts: list[Any] = []
        buffer: list[str] = []
        while True:
            if pos >= n:
                raise self.error("unclosed string", start)
            char = src[pos]
            if char == "\\" and pos + 1 < n:
                buffer.append(src[pos : pos + 2])
                pos += 2
                continue
            if char == '"':
                pos += 1
                break
            if char == "#" and src.startswith("#{", pos):
                if buffer:
                    parts.append(unescape("".join(buffer)))
                    buffer = []
                tokens, pos = self.expression_tokens(pos + 2, start=pos)
                if not tokens:
                    raise self.error("empty string interpolation", pos)
                tokens.append(self.token(EOF, None, pos))
                parts.append(tokens)
                continue
            buffer.append(char)
            pos += 1
        if buffer or not parts:
            parts.append(unescape("".join(buffer)))
        token = self.token(STRING, None, start, pos)
        token.parts = parts
        return token, pos


def tokenize(source: str, name: str = "template") -> tuple[list[Token], str]:
    """Tokens of ``source`` and the normalised source they point into."""
    lexer = _Lexer(source, name)
    return lexer.run(), lexer.source
