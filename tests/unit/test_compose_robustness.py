"""Whatever a caller sends to compose, the answer is a prepared message or a clear error.

Requests are drawn from troublemakers: lone surrogates, NUL, CR/LF, Unicode line separators,
template tags in data, Cyrillic and CJK, SMTPUTF8 addresses, odd header names and values, real
benign and malicious HTML cut at random places. ``Composer.prepare`` must return or raise a
``MailcardError`` with a message: any other exception is a crash an API or CLI user would see.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.corpora import benign_files, load_jsonl

from mailcard.compose import Composer, EmailRequest
from mailcard.errors import MailcardError
from mailcard.outbox.memory import InMemoryOutboxStore
from mailcard.rendering import TemplateEngine

PIECES = [
    "a", "Я", "王", " ", "\n", "\r", "\x00", "\ud800", "\udc80", "<", ">", "&", "=", "\t", "From ", ".",
    "\u2028", "\x85", "😀", "{{", "}}", "{%", "%}", '"', "'", "\u200b", "\xa0", "=?utf-8?q?x?=",
]  # fmt: skip
# Valid ones, drawn most of the time so that requests get past the addresses to rendering and MIME
# (the SMTPUTF8 ones make headers raw UTF-8), and broken ones.
VALID_ADDRESSES = [
    "a@example.com", "Имя <имя@пример.рф>", "王 <wang@example.cn>", "иван@почта.рф",
    '"q, n" <q@example.com>', "Магазин «Ромашка» <shop@example.com>", "x@example.com; y@example.com",
]  # fmt: skip
BAD_ADDRESSES = ["bad", "", "a@b", "x@example.com, z@", "<>", "a\r\nb@example.com", "a\ud800@example.com"]

TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
ADDRESS = st.integers(0, 9).flatmap(
    lambda roll: (
        st.sampled_from(VALID_ADDRESSES) if roll < 8 else st.one_of(st.sampled_from(BAD_ADDRESSES), TEXT)
    )
)


@pytest.fixture(scope="module")
def samples() -> list[str]:
    benign = [path.read_text(encoding="utf-8") for path in benign_files()]
    return benign + [str(vector["html"]) for vector in load_jsonl("malicious-html.jsonl")[::20]]


@pytest.fixture(scope="module")
def composer() -> Composer:
    return Composer(InMemoryOutboxStore(), templates=TemplateEngine())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_prepare_returns_or_raises_a_mailcard_error(
    composer: Composer, samples: list[str], data: st.DataObject
) -> None:
    sample = data.draw(st.sampled_from(samples))
    cut = data.draw(st.integers(0, len(sample)))
    html = data.draw(st.sampled_from([None, sample, sample[:cut] + data.draw(TEXT)]))
    request = EmailRequest(
        sender=data.draw(ADDRESS),
        to=data.draw(st.one_of(ADDRESS, st.lists(ADDRESS, max_size=3))),
        subject=data.draw(st.one_of(TEXT, st.just("x" * 1200))),
        text=data.draw(st.one_of(st.none(), TEXT)),
        html=html,
        preheader=data.draw(st.one_of(st.none(), TEXT)),
        context=data.draw(st.one_of(st.none(), st.fixed_dictionaries({"a": TEXT}))),
        headers=data.draw(st.dictionaries(st.one_of(st.just("X-Tag"), TEXT), TEXT, max_size=2)),
    )
    try:
        prepared = composer.prepare(request)
    except MailcardError as error:
        assert error.message and error.code
    else:
        assert prepared.built.data.endswith(b"\r\n")
