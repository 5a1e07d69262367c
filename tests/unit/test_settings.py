"""Settings from the environment: a bad value is a clear ``invalid_setting`` error naming the variable
(never a traceback, never the value itself), and ``mailcard config`` never prints a secret."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mailcard.cli.main import build_app
from mailcard.errors import ConfigurationError
from mailcard.settings import load_settings


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("MAILCARD_WORKER_CONCURRENCY", "abc", "valid integer"),
        ("MAILCARD_WORKER_CONCURRENCY", "0", "greater than or equal to 1"),
        ("MAILCARD_WORKER_BATCH_SIZE", "70000", "less than or equal to 1000"),
        ("MAILCARD_LEASE_SECONDS", "-5", "greater than 0"),
        ("MAILCARD_PORT", "70000", "less than or equal to 65535"),
        ("MAILCARD_LOG_LEVEL", "verbose", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
    ],
)
def test_a_bad_value_names_its_variable_and_reason(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    error = caught.value
    assert error.code == "invalid_setting"
    assert variable in error.message and reason in error.message
    assert [problem["variable"] for problem in error.details["settings"]] == [variable]


def test_every_bad_variable_is_reported_at_once_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCARD_WORKER_POLL_SECONDS", "never-9f3a")
    monkeypatch.setenv("MAILCARD_RETRY_MAX_ATTEMPTS", "0")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    named = [problem["variable"] for problem in caught.value.details["settings"]]
    assert sorted(named) == ["MAILCARD_RETRY_MAX_ATTEMPTS", "MAILCARD_WORKER_POLL_SECONDS"]
    assert "never-9f3a" not in json.dumps(caught.value.to_dict())


def test_log_level_is_accepted_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILCARD_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


def test_a_command_with_a_bad_setting_exits_2_with_a_json_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("MAILCARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILCARD_WORKER_BATCH_SIZE", "lots")
    for command in (["outbox", "list", "--json"], ["inbox", "list", "--json"], ["config", "--json"]):
        result = CliRunner().invoke(build_app(), command)
        assert result.exit_code == 2, (command, result.output)
        error = json.loads(result.stdout)["error"]
        assert error["code"] == "invalid_setting"
        assert error["settings"][0]["variable"] == "MAILCARD_WORKER_BATCH_SIZE"


def test_config_shows_values_in_effect_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("MAILCARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILCARD_SECRET_KEY", "key-material-5d1c")
    monkeypatch.setenv("MAILCARD_DATABASE_URL", "postgresql+psycopg://app:pg-pass-77e2@db.internal/mail")
    monkeypatch.setenv(
        "MAILCARD_SMTP_URL", "smtp+starttls://shop%40example.com:smtp-pass-a0b9@smtp.example.com:587"
    )
    monkeypatch.setenv("MAILCARD_WORKER_CONCURRENCY", "16")
    result = CliRunner().invoke(build_app(), ["config", "--json"])
    assert result.exit_code == 0, result.output
    for secret in ("key-material-5d1c", "pg-pass-77e2", "smtp-pass-a0b9"):
        assert secret not in result.stdout
    values = {row["variable"]: row["value"] for row in json.loads(result.stdout)["settings"]}
    assert values["MAILCARD_WORKER_CONCURRENCY"] == 16
    assert values["MAILCARD_SECRET_KEY"] == "(set)"
    assert values["MAILCARD_DATABASE_URL"] == "postgresql+psycopg://app:***@db.internal/mail"
    assert values["MAILCARD_SMTP_URL"] == "smtp+starttls://shop%40example.com:***@smtp.example.com:587"
    human = CliRunner().invoke(build_app(), ["config"])
    assert human.exit_code == 0 and "smtp-pass-a0b9" not in human.output and "MAILCARD_PORT" in human.output
