"""The skeleton cache changes nothing a recipient or a sender sees: the same HTML, text part and
findings as the full path, or the same refusal, for every template and value, hostile ones included.

Each case runs through two composers: one reusing skeletons (the default) and one that takes the
full path for every message (``reuse_skeletons=False``), which is the reference.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.corpora import benign_files, load_jsonl

from mailcard.compose import Composer, EmailRequest
from mailcard.compose import skeleton as skeleton_module
from mailcard.errors import MailcardError
from mailcard.outbox.memory import InMemoryOutboxStore
from mailcard.rendering import TemplateEngine


def _composer(reuse: bool) -> Composer:
    return Composer(
        InMemoryOutboxStore(),
        templates=TemplateEngine(),
        clock=lambda: datetime(2026, 11, 22, tzinfo=UTC),
        reuse_skeletons=reuse,
    )


class _Spy:
    """Counts the messages whose text part came from a skeleton."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reused = 0
        original = skeleton_module.SkeletonCache.text_part_layout

        def counting(cache: Any, *pieces: Any) -> str | None:
            layout = original(cache, *pieces)
            self.reused += layout is not None
            return layout

        monkeypatch.setattr(skeleton_module.SkeletonCache, "text_part_layout", counting)


def _outcome(composer: Composer, request: EmailRequest) -> tuple[Any, ...]:
    try:
        prepared = composer.prepare(request)
    except MailcardError as error:
        return ("refused", type(error).__name__, error.message, error.to_dict())
    return ("prepared", prepared.subject, prepared.html, prepared.text, prepared.findings)


def _request(html: str, context: dict[str, Any], preheader: str | None = "Для {{ name }}") -> EmailRequest:
    return EmailRequest(
        sender="Магазин «Ромашка» <shop@example.com>",
        to="anna@example.ru",
        subject="Заказ {{ order }}",
        preheader=preheader,
        html=html,
        context=context,
    )


ORDER = """<!doctype html><html><body>
<h1>Здравствуйте, {{ name }}!</h1>
<table>{% for item in items %}<tr><td>{{ loop.index }}. {{ item.name }}</td>
<td>{{ item.price|number_format(2, ',', ' ') }} ₽</td></tr>{% endfor %}</table>
<p><a href="https://shop.example.com/orders/{{ order|url_encode }}">Посмотреть заказ</a></p>
<p><img src="https://cdn.example.com/{{ order }}.png" alt="{{ order }}"></p>
{% if bonus > 0 %}<p>Бонусы: {{ bonus }}</p>{% endif %}
<p><a href="{{ unsubscribe }}">Отписаться</a></p>
</body></html>"""


def test_a_mailing_reuses_its_skeletons_and_matches_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    fast, reference = _composer(True), _composer(False)
    names = ["Анна", "王芳", "John O'Neil", "Иван & Co", "李娜"]
    for n in range(200):
        context = {
            "name": names[n % 5],
            "order": f"{10000 + n}A",
            "bonus": n % 3,
            "unsubscribe": f"https://shop.example.com/unsubscribe?c={n}&t=x{n * 7919 % 1000}",
            "items": [{"name": f"Товар {k}", "price": 199.5 * (k + 1)} for k in range(1 + n % 4)],
        }
        request = _request(ORDER, context)
        assert _outcome(fast, request) == _outcome(reference, request)
    # 12 shapes (1-4 items, bonus or not) and 200 messages: all but a shape's first reuse it.
    assert spy.reused == 200


# Where a value can land, and the values the rules must see through.
PLACES = [
    "<p>Привет, {{ v }}!</p>",
    "<p>{{ v }}</p>",
    '<p><a href="https://shop.example.com/p/{{ v }}">купить</a></p>',
    '<p><a href="{{ v }}">ссылка</a></p>',
    '<p><a href="https://shop.example.com/{{ v }}">{{ v }}</a></p>',
    '<p><a href="https://{{ v }}/x">x</a></p>',
    "<p><a href=https://shop.example.com/{{ v }}>x</a></p>",
    '<p><img src="https://cdn.example.com/{{ v }}" alt="{{ v }}"></p>',
    '<p title="{{ v }}">t</p>',
    '<p style="color: {{ v }}">t</p>',
    "<title>{{ v }}</title><p>t</p>",
    "<pre>{{ v }}</pre>",
    "<textarea>{{ v }}</textarea>",
    "<style>p { color: {{ v }} }</style><p>t</p>",
    "<!-- {{ v }} --><p>t</p>",
    "<!--[if mso]><p>{{ v }}</p><![endif]--><p>t</p>",
    "<svg><text>{{ v }}</text></svg>",
    "<p>&{{ v }}</p>",
    "<p>bit.ly/{{ v }}</p>",
    "<p>{{ v|raw }}</p>",
    '<p class="{{ v }}">t</p><p>u</p>',
    "<table><tr>{{ v }}<td>t</td></tr></table>",
    "<p><b>{{ v }}<i>x</b>y</i></p>",
    "<div hidden>{{ v }}</div><p>t</p>",
    "<ul><li>{{ v }}</li><li>{{ v }} {{ v }}</li></ul>",
    '<p><a href="https://shop.example.com/{{ v }}">https://shop.example.com/{{ v }}</a></p>',
    "<xmp>{{ v }}</xmp>",
    '<p><a href="/account">кабинет</a> {{ v }}</p>',
    '<p><a href="https://shop.example.com/{{ v }}{x}">x</a></p>',
    "<select><option>{{ v }}</option></select>",
]
HOSTILE = [
    "javascript:alert(1)",
    "bit.ly/abc",
    "https://bit.ly/abc",
    "x onmouseover=alert(1)",
    '"><script>alert(1)</script>',
    "amp;",
    "&{alert(1)}",
    "a  b",
    " a",
    "a ",
    "\u00a0",
    "\u034f",
    "\u200b",
    "a\nb",
    "\U00100000",
    "",
    "#top",
    "mailto:a@b.c",
    "/relative",
    "x@bit.ly/abc",
    "https://shop.example.com/p/1",
    "Посмотреть заказ",
    "expression(alert(1))",
    "&lt;",
    "{{ v }}",
    "1&2",
    "a/b",
    "a&",
]
value = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12), st.sampled_from(["Анна", "10001A"]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    places=st.lists(st.sampled_from(PLACES), min_size=1, max_size=3),
    v=value,
    preheader=st.sampled_from([None, "Для {{ v }}"]),
)
def test_any_value_in_any_place_gives_what_the_full_path_gives(
    places: list[str], v: str, preheader: str | None
) -> None:
    html = "<html><body>" + "".join(places) + "</body></html>"
    fast, reference = _composer(True), _composer(False)
    # The first message analyses the skeleton; the second, with another value, reuses it.
    for context in ({"v": "Анна"}, {"v": v}):
        request = _request(html, context, preheader)
        assert _outcome(fast, request) == _outcome(reference, request)


@pytest.mark.parametrize("place", PLACES)
def test_each_hostile_value_in_each_place_gives_what_the_full_path_gives(place: str) -> None:
    fast, reference = _composer(True), _composer(False)
    html = f"<html><body><p>Заказ</p>{place}</body></html>"
    for v in ["Анна", *HOSTILE, "Анна"]:  # a skeleton analysed first, then reused or refused
        request = _request(html, {"v": v})
        assert _outcome(fast, request) == _outcome(reference, request), v


def test_every_malicious_vector_stays_blocked_beside_printed_values() -> None:
    fast = _composer(True)
    for vector in load_jsonl("malicious-html.jsonl"):
        template = "{% verbatim %}" + vector["html"] + "{% endverbatim %}<p>{{ name }}</p>"
        for name in ("Анна", "王芳"):  # the second message would reuse a skeleton that passed
            outcome = _outcome(fast, _request(template, {"name": name}, None))
            assert outcome[:2] == ("refused", "ContentBlockedError"), vector["id"]


_TEXT_BETWEEN_TAGS = re.compile(r">([^<>{}%#&\s][^<>{}%#&]{2,60}?)<")


def _with_holes(source: str, most: int = 6) -> tuple[str, list[str]]:
    """``source`` with its first ``most`` short texts between tags made ``{{ tN }}``, and those texts."""
    originals: list[str] = []

    def hole(match: re.Match[str]) -> str:
        if len(originals) == most:
            return match.group(0)
        originals.append(match.group(1))
        return f">{{{{ t{len(originals) - 1} }}}}<"

    return _TEXT_BETWEEN_TAGS.sub(hole, source), originals


def test_benign_templates_with_values_match_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    fast, reference = _composer(True), _composer(False)
    compared = 0
    for path in benign_files():
        source = path.read_text(encoding="utf-8")
        if "{{" in source or "{%" in source or "{#" in source:
            continue  # already a template of another engine's syntax
        template, originals = _with_holes(source)
        other = [f"Клиент {k}" for k in range(len(originals))]
        for values in (originals, other, ["bit.ly/x"] * len(originals)):
            context = {f"t{k}": value for k, value in enumerate(values)}
            request = _request(template, context, "Для вас")
            assert _outcome(fast, request) == _outcome(reference, request), path.name
            compared += 1
    assert compared >= 60
    # Most of these layouts qualify: their first two value sets reuse the skeleton (the third,
    # with a shortened link in every text, must not).
    assert spy.reused >= compared // 3


def test_the_html_is_still_rendered_last_so_the_first_template_error_is_reported() -> None:
    request = _request("<p>{{ v|no_such_filter }}</p>", {"v": "x"}, preheader="{{ v|nor_this_one }}")
    outcome = _outcome(_composer(True), request)
    assert outcome[:2] == ("refused", "TemplateSyntaxError")
    assert "nor_this_one" in outcome[2]


def _insert_everywhere(source: str, rng: random.Random, count: int) -> list[str]:
    """``source`` with ``{{ v }}`` at ``count`` random places: in text, tags, attribute names and
    values, comments, styles, wherever the position falls."""
    positions = sorted(rng.sample(range(len(source) + 1), min(count, len(source) + 1)))
    return [source[:at] + "{{ v }}" + source[at:] for at in positions]


def test_a_value_at_any_position_of_real_documents_gives_what_the_full_path_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = _Spy(monkeypatch)
    rng = random.Random(20261122)
    documents = [
        path.read_text(encoding="utf-8")
        for path in benign_files()
        if not re.search(r"\{[{%#]", path.read_text(encoding="utf-8"))
    ]
    vectors = [v["html"] for v in load_jsonl("malicious-html.jsonl") if not re.search(r"\{[{%#]", v["html"])]
    templates = [t for d in documents for t in _insert_everywhere(d, rng, 8)]
    templates += [t for v in rng.sample(vectors, 150) for t in _insert_everywhere(v, rng, 1)]
    values = ["Анна", "javascript:alert(1)", "https://bit.ly/x", 'a" onclick="x', "x y", "amp;"]
    compared = 0
    for template in templates:
        fast, reference = _composer(True), _composer(False)
        for v in ["Анна", *rng.sample(values, 3)]:
            request = _request(template, {"v": v}, None)
            assert _outcome(fast, request) == _outcome(reference, request), (template[:200], v)
            compared += 1
    assert compared >= 1300
    assert spy.reused >= 150  # the positions in plain text, where the skeleton is reused


def test_a_skeleton_the_analysis_trips_on_takes_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def trips(*_: object) -> None:
        raise RuntimeError("a bug in the analysis")

    monkeypatch.setattr(skeleton_module, "_analyse", trips)
    request = _request(ORDER, {"name": "Анна", "order": "1A", "bonus": 1, "items": [], "unsubscribe": "x"})
    assert _outcome(_composer(True), request) == _outcome(_composer(False), request)
