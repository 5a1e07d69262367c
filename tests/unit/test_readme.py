"""The README's configuration reference is the generated one, so the documentation cannot drift."""

from __future__ import annotations

from pathlib import Path

from mailcard.settings import Settings, reference_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_carries_the_generated_configuration_table() -> None:
    # `mailcard config --markdown` prints it: paste its output when a setting changes.
    assert reference_markdown() in README.read_text("utf-8")


def test_every_setting_is_in_the_table() -> None:
    table = reference_markdown()
    assert all(f"`MAILCARD_{name.upper()}`" in table for name in Settings.model_fields)


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text("utf-8")
    assert "make run" in text and "make test" in text
