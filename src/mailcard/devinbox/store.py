"""Files of the dev inbox: writing captured messages atomically and reading them back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from mailcard.errors import NotFoundError
from mailcard.outbox.model import new_message_id


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    id: str
    received_at: str
    mail_from: str
    recipients: list[str]
    subject: str
    header_from: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at,
            "sender": self.mail_from,
            "recipients": self.recipients,
            "subject": self.subject,
            "from": self.header_from,
            "size": self.size,
        }


class DevInboxStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def save(self, mail_from: str, recipients: list[str], data: bytes) -> CapturedMessage:
        self.directory.mkdir(parents=True, exist_ok=True)
        headers = BytesHeaderParser(policy=policy.default).parsebytes(data)
        message = CapturedMessage(
            id=new_message_id(),
            received_at=datetime.now(UTC).isoformat(),
            mail_from=mail_from,
            recipients=recipients,
            subject=str(headers.get("Subject", "")),
            header_from=str(headers.get("From", "")),
            size=len(data),
        )
        _write_atomically(self.directory / f"{message.id}.eml", data)
        # The summary is written last: a listed message always has its bytes.
        _write_atomically(
            self.directory / f"{message.id}.json",
            json.dumps(message.to_dict(), ensure_ascii=False).encode("utf-8"),
        )
        return message

    def list(self, *, limit: int = 50) -> list[CapturedMessage]:
        if not self.directory.exists():
            return []
        names = sorted((p.name for p in self.directory.glob("*.json")), reverse=True)[:limit]
        return [self._summary(self.directory / name) for name in names]

    def get(self, message_id: str) -> tuple[CapturedMessage, bytes]:
        summary_path = self.directory / f"{message_id}.json"
        if "/" in message_id or not summary_path.exists():
            raise NotFoundError(
                f"No captured message {message_id} in the dev inbox.", code="inbox_message_not_found"
            )
        return self._summary(summary_path), (self.directory / f"{message_id}.eml").read_bytes()

    def clear(self) -> int:
        removed = 0
        for path in self.directory.glob("*.*") if self.directory.exists() else []:
            if path.suffix in (".eml", ".json"):
                path.unlink()
                removed += path.suffix == ".json"
        return removed

    @staticmethod
    def _summary(path: Path) -> CapturedMessage:
        raw = json.loads(path.read_text("utf-8"))
        return CapturedMessage(
            id=raw["id"],
            received_at=raw["received_at"],
            mail_from=raw["sender"],
            recipients=list(raw["recipients"]),
            subject=raw["subject"],
            header_from=raw["from"],
            size=raw["size"],
        )


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
