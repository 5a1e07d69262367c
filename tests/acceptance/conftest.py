"""Run the real ``mailcard`` command as a user would: a subprocess with its own data directory."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.support.live_server import MAILCARD

__all__ = ["MAILCARD", "Cli", "CliResult"]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


Cli = Callable[..., CliResult]


@pytest.fixture
def mailcard_env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "MAILCARD_DATA_DIR": str(tmp_path / "var"),
        "MAILCARD_LOG_LEVEL": "WARNING",
        "MAILCARD_RETRY_BASE_SECONDS": "1",
    }


@pytest.fixture
def cli(mailcard_env: dict[str, str]) -> Cli:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        done = subprocess.run(
            [MAILCARD, *args],
            env=(mailcard_env | (env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run
