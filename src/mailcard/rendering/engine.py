"""The public engine: compile (cached), render, strict mode and ``find_unresolved``.

A template compiles once per (source, options) into a Python function (see
:mod:`mailcard.rendering.codegen`) kept in an LRU cache. Rendering runs that function on a shallow
copy of the context with a fresh :class:`~mailcard.rendering.runtime.Runtime`, then turns
anything that went wrong into our :class:`~mailcard.errors.TemplateError` tree with the template
line and column.
"""

from __future__ import annotations

import functools
import itertools
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailcard.errors import (
    TemplateError,
    TemplateLimitError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UnresolvedVariableError,
)
from mailcard.rendering import codegen, library
from mailcard.rendering.lint import static_unresolved
from mailcard.rendering.nodes import Template
from mailcard.rendering.parser import parse
from mailcard.rendering.runtime import Runtime, RuntimeConfig, Unresolved, UnresolvedVariable

__all__ = ["CompiledTemplate", "RenderLimits", "RenderOptions", "TemplateEngine"]

AUTOESCAPE_VALUES = (None, "html", "js", "css", "url", "html_attr")
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """Bounds on one render; exceeding any raises :class:`~mailcard.errors.TemplateLimitError`."""

    max_output_bytes: int = 2_000_000
    max_loop_steps: int = 200_000
    max_seconds: float = 2.0
    max_macro_depth: int = 64
    cache_size: int = 512


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How a template is compiled and rendered.

    ``autoescape`` is ``"html"`` for HTML bodies and ``None`` for subjects, preheaders and text.
    ``date_format``/``number_format`` are Twig's configurable defaults for the ``date`` and
    ``number_format`` filters.
    """

    autoescape: str | None = "html"
    strict_variables: bool = False
    timezone: str = "UTC"
    date_format: str = "F j, Y H:i"
    date_interval_format: str = "%d days"
    number_format: tuple[int, str, str] = field(default=(0, ".", ","))
    random_seed: int = 0

    def __post_init__(self) -> None:
        if self.autoescape not in AUTOESCAPE_VALUES:
            raise ValueError(f"autoescape must be one of {AUTOESCAPE_VALUES}, not {self.autoescape!r}")


class CompiledTemplate:
    """A compiled template; :meth:`render` is safe to call from several threads."""

    def __init__(
        self,
        *,
        name: str,
        options: RenderOptions,
        limits: RenderLimits,
        function: Callable[[Runtime, dict[str, Any]], list[str]],
        filename: str,
        line_map: list[tuple[int, int]],
        python_source: str,
        ast: Template,
    ) -> None:
        self.name = name
        self.options = options
        self.limits = limits
        self._function = function
        self._filename = filename
        self._line_map = line_map
        self.python_source = python_source
        self.ast = ast
        self._config = RuntimeConfig(
            name=name,
            strict=options.strict_variables,
            timezone=options.timezone,
            date_format=options.date_format,
            interval_format=options.date_interval_format,
            number_format=options.number_format,
            max_steps=limits.max_loop_steps,
            max_chars=limits.max_output_bytes,
            max_seconds=limits.max_seconds,
            max_macro_depth=limits.max_macro_depth,
            filename=filename,
            line_map=line_map,
            random_seed=options.random_seed,
        )

    def _runtime(self) -> Runtime:
        return Runtime(self._config)

    def render(self, context: Mapping[str, Any] | None = None) -> str:
        return self._run(context, self._runtime())[1]

    def render_pieces(self, context: Mapping[str, Any] | None = None) -> tuple[list[str], str]:
        """The output as written, piece by piece, and joined (the same text :meth:`render` returns).

        A piece that is the template's own text is one of :attr:`static_texts` (the same object on
        every render); the others are printed values, or text a construct such as a macro, ``set``
        block or filter made at render time.
        """
        return self._run(context, self._runtime())

    @functools.cached_property
    def static_texts(self) -> frozenset[int]:
        """The ``id`` of every string constant of the compiled render function (see render_pieces).

        Ids are stable while this object keeps the function, and no other live object has them.
        """
        found: set[int] = set()
        codes = [self._function.__code__]
        while codes:
            code = codes.pop()
            for constant in code.co_consts:
                if type(constant) is str:
                    found.add(id(constant))
                elif isinstance(constant, types.CodeType):
                    codes.append(constant)
        return frozenset(found)

    def find_unresolved(self, context: Mapping[str, Any] | None = None) -> list[UnresolvedVariable]:
        runtime = self._runtime()
        found: list[UnresolvedVariable] = []
        runtime.collect = found
        try:
            self._run(context, runtime)
        except TemplateSyntaxError:
            raise
        except TemplateError:
            pass  # a later runtime error ends the walk; what was found so far is still useful
        # The static pass adds branches this context does not enter.
        found.extend(static_unresolved(self.ast, dict(context or {})))
        unique: dict[tuple[str, int | None, int | None], UnresolvedVariable] = {}
        for item in found:
            unique.setdefault((item.path, item.line, item.column), item)
        return sorted(unique.values(), key=lambda item: (item.line or 0, item.column or 0, item.path))

    def _run(self, context: Mapping[str, Any] | None, runtime: Runtime) -> tuple[list[str], str]:
        if type(context) is dict:  # the usual case; isinstance against the Mapping ABC is slow
            data: dict[str, Any] = dict(context)
        elif context is None:
            data = {}
        elif isinstance(context, Mapping):
            data = dict(context)
        else:
            raise TemplateRuntimeError(
                "the template context must be a mapping of names to values", name=self.name
            )
        try:
            pieces = self._function(runtime, data)
            text = "".join(pieces)
        except Unresolved as exc:
            line, column = self._locate(exc.__traceback__)
            raise self._unresolved_error(exc, line, column) from None
        except TemplateError as exc:
            line, column = self._locate(exc.__traceback__)
            raise self._located(exc, line, column) from None
        except RecursionError:
            raise TemplateLimitError(
                "the template or its data is nested too deeply to render", name=self.name
            ) from None
        except MemoryError:
            raise TemplateLimitError("the template needs too much memory to render", name=self.name) from None
        except Exception as exc:  # a bug in a helper must still come out as a located TemplateError
            line, column = self._locate(exc.__traceback__)
            where = f" at line {line}, column {column}" if line else ""
            raise TemplateRuntimeError(
                f"the template failed{where}: {type(exc).__name__}: {exc}",
                line=line,
                column=column,
                name=self.name,
            ) from exc
        limit = self.limits.max_output_bytes
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit):
            raise TemplateLimitError(
                f"the template output is larger than {limit} bytes",
                hint="check loops and repeated concatenation",
                name=self.name,
            )
        return pieces, text

    def _locate(self, tb: types.TracebackType | None) -> tuple[int | None, int | None]:
        found: tuple[int | None, int | None] = (None, None)
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                index = tb.tb_lineno - 1
                if 0 <= index < len(self._line_map):
                    found = self._line_map[index]
            tb = tb.tb_next
        return found

    def _located(self, exc: TemplateError, line: int | None, column: int | None) -> TemplateError:
        if exc.line is not None:
            return exc
        message = exc.message
        if line is not None:
            message = f"{message} at line {line}, column {column}"
        located = type(exc)(message, line=line, column=column, name=self.name, hint=exc.hint)
        return located

    def _unresolved_error(
        self, exc: Unresolved, line: int | None, column: int | None
    ) -> UnresolvedVariableError:
        where = f" at line {line}" if line is not None else ""
        message = f"unresolved variable {exc.path}{where}"
        if exc.reason:
            message += f" ({exc.reason})"
        if exc.suggestion:
            message += f"; did you mean {exc.suggestion}?"
        hint = "check the spelling, or give it a fallback with |default('...')"
        return UnresolvedVariableError(message, line=line, column=column, name=self.name, hint=hint)


class TemplateEngine:
    """Compiles Twig templates (cached) and renders them safely."""

    def __init__(self, limits: RenderLimits | None = None) -> None:
        self.limits = limits or RenderLimits()
        self._cache: OrderedDict[tuple[str, RenderOptions, str], CompiledTemplate] = OrderedDict()
        self._lock = threading.Lock()

    def compile(
        self, source: str, options: RenderOptions | None = None, name: str = "template"
    ) -> CompiledTemplate:
        options = options or RenderOptions()
        key = (source, options, name)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        compiled = self._compile(source, options, name)
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self.limits.cache_size:
                self._cache.popitem(last=False)
        return compiled

    def render(
        self,
        source: str,
        context: Mapping[str, Any] | None = None,
        options: RenderOptions | None = None,
        name: str = "template",
    ) -> str:
        return self.compile(source, options, name).render(context)

    def find_unresolved(
        self, source: str, context: Mapping[str, Any] | None = None, name: str = "template"
    ) -> list[UnresolvedVariable]:
        """Every variable path the context lacks (with line and column), for linting."""
        options = RenderOptions(strict_variables=True)
        return self.compile(source, options, name).find_unresolved(context)

    def _compile(self, source: str, options: RenderOptions, name: str) -> CompiledTemplate:
        if not isinstance(source, str):
            raise TemplateSyntaxError("a template must be text", name=name)
        try:
            ast, _ = parse(source, name, library.FILTERS, library.FUNCTIONS, library.TESTS)
            python_source, line_map = codegen.generate(
                ast, name, options.autoescape, options.strict_variables
            )
        except RecursionError:
            raise TemplateSyntaxError("the template is nested too deeply", name=name) from None
        filename = f"<template {name} #{next(_ids)}>"
        try:
            code = compile(python_source, filename, "exec")
        except (SyntaxError, RecursionError, MemoryError) as exc:
            raise TemplateSyntaxError(
                "the template is too complex to compile (expressions nested too deeply)", name=name
            ) from exc
        namespace: dict[str, Any] = dict(codegen.NAMESPACE)
        namespace["__builtins__"] = {}
        exec(code, namespace)
        return CompiledTemplate(
            name=name,
            options=options,
            limits=self.limits,
            function=namespace["render"],
            filename=filename,
            line_map=line_map,
            python_source=python_source,
            ast=ast,
        )
