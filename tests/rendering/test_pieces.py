"""``render_pieces``: the output piece by piece, the template's own text told from printed values."""

from __future__ import annotations

from tests.support.corpora import load_jsonl

from mailcard.errors import TemplateError
from mailcard.rendering import RenderOptions, TemplateEngine
from mailcard.rendering.batch import options_from_config


def test_pieces_tell_the_templates_text_from_printed_values() -> None:
    compiled = TemplateEngine().compile(
        "<p>Здравствуйте, {{ name }}!</p>{% for i in items %}<li>{{ i }}</li>{% endfor %}{% if vip %}VIP{% endif %}",
        RenderOptions(autoescape="html"),
    )
    pieces, text = compiled.render_pieces({"name": "Анна & Co", "items": ["a", "b"], "vip": True})
    assert text == "".join(pieces) == "<p>Здравствуйте, Анна &amp; Co!</p><li>a</li><li>b</li>VIP"
    values = [p for p in pieces if p and id(p) not in compiled.static_texts]
    assert values == ["Анна &amp; Co", "a", "b"]
    static = [p for p in pieces if id(p) in compiled.static_texts]
    assert "".join(static) == "<p>Здравствуйте, !</p><li></li><li></li>VIP"


def test_pieces_join_to_what_render_returns_for_every_corpus_case() -> None:
    engine = TemplateEngine()
    rendered = 0
    for case in load_jsonl("twig-dev.jsonl"):
        try:
            compiled = engine.compile(case["template"], options_from_config(case["config"]))
            expected = compiled.render(case["context"])
        except TemplateError:
            continue  # the corpus test covers the cases that raise
        pieces, text = compiled.render_pieces(case["context"])
        assert text == "".join(pieces) == expected, case["id"]
        rendered += 1
    assert rendered >= 350
