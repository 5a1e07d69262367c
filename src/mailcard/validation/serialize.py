"""The classic HTML fragment serialisation algorithm, used to model the mutation round trip.

CSS inliners, sanitizers and template engines parse an e-mail, then write the tree back out with
``innerHTML``-style serialisation; the recipient's client parses that output again. Namespace
confusion (``<svg>``/``<math>``), nested forms or ``<noscript>`` can make the second parse differ from
the first, turning inert text into live markup ("mutation XSS"). We reproduce the round trip with the
serialiser most tools implement: attribute values escape only ``&``, U+00A0 and ``"`` (not ``<``/``>``),
and the children of raw-text elements are written literally whatever their namespace. lexbor's own
serialiser escapes more and would hide mutations those tools produce.
"""

from __future__ import annotations

from typing import Any

__all__ = ["serialize_classic"]

_VOID = frozenset(
    [
        "area",
        "base",
        "basefont",
        "bgsound",
        "br",
        "col",
        "embed",
        "frame",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_RAW_TEXT_PARENTS = frozenset(
    ["style", "script", "xmp", "iframe", "noembed", "noframes", "plaintext", "noscript"]
)
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "\u00a0": "&nbsp;", '"': "&quot;"})
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "\u00a0": "&nbsp;", "<": "&lt;", ">": "&gt;"})


def serialize_classic(document: Any) -> str:
    """Serialise the children of ``document`` (a selectolax node). Iterative: deep trees cannot overflow."""
    out: list[str] = []
    # The stack holds nodes to open and, as plain strings, end tags still to write.
    stack: list[Any] = list(reversed(list(document.iter(include_text=True))))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        tag: str | None = item.tag
        if tag == "-text":
            data = item.text_content or ""
            parent = item.parent
            if parent is not None and parent.tag.lower() in _RAW_TEXT_PARENTS:
                out.append(data)
            else:
                out.append(data.translate(_TEXT_ESCAPES))
            continue
        if tag == "-comment":
            out.append(f"<!--{item.comment_content or ''}-->")
            continue
        if tag is None or tag.startswith("-"):
            # The doctype, and processing instructions ("<?php ... ?>", which lexbor names None
            # and a browser keeps as a comment): irrelevant to active content.
            continue
        attributes = item.attributes
        if attributes:
            rendered = "".join(
                f' {name}="{(value or "").translate(_ATTR_ESCAPES)}"' for name, value in attributes.items()
            )
            out.append(f"<{tag}{rendered}>")
        else:
            out.append(f"<{tag}>")
        if tag.lower() in _VOID:
            continue
        stack.append(f"</{tag}>")
        stack.extend(reversed(list(item.iter(include_text=True))))
    return "".join(out)
