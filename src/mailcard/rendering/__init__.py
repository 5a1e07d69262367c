"""Twig-compatible, sandboxed template engine for subjects, preheaders and bodies.

CRM users write templates in Twig 3 and expect the output PHP's Twig gives, byte for byte:
``'0'`` is false, ``1500.0`` prints ``1500``, ``-7 % 3`` is ``-1``, rounding is half away from
zero, ``set`` inside ``for`` updates the outer variable, PHP ``date`` formats, ... Stock Jinja2
renders only 12-18 % of our compatibility corpus correctly, and its sandbox works by filtering
Python attribute access. So this package is a hand-written Twig lexer and parser whose AST is
compiled to Python source (cached), running on plain JSON-like data only: ``a.b`` is a mapping key
or list index, never ``getattr``, and generated code runs without builtins.

Modules: :mod:`.lexer`, :mod:`.parser` and :mod:`.nodes` (syntax), :mod:`.codegen` (AST → Python),
:mod:`.runtime` (per-render state, limits, strict mode), :mod:`.values` (PHP value semantics),
:mod:`.library` (filters, functions, tests), :mod:`.escape`, :mod:`.phpformat`, :mod:`.phpdate`,
:mod:`.engine` (public API) and :mod:`.batch` (JSON-lines rendering).

Usage::

    engine = TemplateEngine(limits=RenderLimits())
    html = engine.render(source, context, RenderOptions(autoescape="html"))
    subject = engine.render(subject_source, context, RenderOptions(autoescape=None))
"""

from __future__ import annotations

from mailcard.rendering.engine import CompiledTemplate, RenderLimits, RenderOptions, TemplateEngine
from mailcard.rendering.runtime import UnresolvedVariable

__all__ = ["CompiledTemplate", "RenderLimits", "RenderOptions", "TemplateEngine", "UnresolvedVariable"]
