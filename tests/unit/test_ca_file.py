"""MAILCARD_SMTP_CA_FILE is honoured when an account is used and never stored with the account."""

from __future__ import annotations

from pathlib import Path

from mailcard.bootstrap import build
from mailcard.delivery.settings import parse_smtp_url
from mailcard.settings import Settings


def test_installation_ca_applies_at_use_and_is_not_stored(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    url = "smtp+starttls://shop:secret@smtp.example.com:587"
    with_ca = build(Settings(data_dir=tmp_path, smtp_ca_file=str(ca)))
    saved = with_ca.accounts.save("shop", parse_smtp_url(url))
    inline = with_ca.accounts.save_inline(parse_smtp_url(url))
    assert with_ca.accounts.settings_for(saved.id).ca_file == str(ca)
    assert with_ca.accounts.resolve(inline.id).settings.ca_file == str(ca)
    assert with_ca.with_default_ca(parse_smtp_url(url)).ca_file == str(ca)
    with_ca.dispose()

    # The same database read by an installation without the setting: nothing was baked in.
    without = build(Settings(data_dir=tmp_path))
    assert without.accounts.settings_for(saved.id).ca_file is None
    assert without.accounts.resolve(inline.id).settings.ca_file is None
    without.dispose()


def test_a_ca_named_by_the_account_wins(tmp_path: Path) -> None:
    own, installation = tmp_path / "own.pem", tmp_path / "installation.pem"
    own.write_text("x")
    installation.write_text("x")
    app = build(Settings(data_dir=tmp_path, smtp_ca_file=str(installation)))
    saved = app.accounts.save("shop", parse_smtp_url(f"smtps://h:465?ca_file={own}"))
    assert app.accounts.settings_for(saved.id).ca_file == str(own)
    app.dispose()
