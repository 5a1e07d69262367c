"""``RecordingTransport``: an in-memory :class:`~mailcard.delivery.transport.Transport` for tests.

It records every send and can be scripted to fail: a queue of outcomes consumed one per call
(``fail_next``), and per-recipient refusals (``refuse``) that apply to every call. It never
touches the network, so worker, compose and flow tests run fast and deterministic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from mailcard.delivery.classify import classify_reply, delivery_error
from mailcard.delivery.settings import SmtpSettings
from mailcard.delivery.transport import Envelope, SendResult
from mailcard.errors import DeliveryError

__all__ = ["RecordedSend", "RecordingTransport"]


@dataclass(frozen=True)
class RecordedSend:
    """One call to :meth:`RecordingTransport.send` and what it returned or raised."""

    settings: SmtpSettings
    envelope: Envelope
    data: bytes
    result: SendResult | None
    error: DeliveryError | None


class RecordingTransport:
    """Records sends; succeeds with ``250 OK`` unless scripted otherwise."""

    def __init__(self) -> None:
        self.sends: list[RecordedSend] = []
        self.closed = False
        self._script: deque[DeliveryError | None] = deque()
        self._refusals: dict[str, tuple[int, str]] = {}

    # -- scripting --------------------------------------------------------------------------------

    def fail_next(self, error: DeliveryError | str, *, times: int = 1) -> None:
        """The next ``times`` calls raise ``error`` (a DeliveryError, or a reason code)."""
        exc = delivery_error(error) if isinstance(error, str) else error
        self._script.extend([exc] * times)

    def succeed_next(self, *, times: int = 1) -> None:
        """Queue ``times`` successes (useful between scripted failures)."""
        self._script.extend([None] * times)

    def refuse(self, recipient: str, code: int = 550, text: str = "5.1.1 User unknown") -> None:
        """Every call refuses ``recipient`` at RCPT with ``code text``."""
        self._refusals[recipient] = (code, text)

    # -- Transport --------------------------------------------------------------------------------

    async def send(self, settings: SmtpSettings, envelope: Envelope, data: bytes) -> SendResult:
        if self.closed:
            raise RuntimeError("RecordingTransport used after aclose()")
        scripted = self._script.popleft() if self._script else None
        result: SendResult | None = None
        error: DeliveryError | None = scripted
        if error is None:
            accepted = tuple(r for r in envelope.recipients if r not in self._refusals)
            refused = {r: self._refusals[r] for r in envelope.recipients if r in self._refusals}
            if accepted:
                result = SendResult(250, "2.0.0 Ok: queued", accepted, refused)
            else:
                # Like SmtpTransport: report a transient refusal if there is one.
                code, text = min(refused.values(), key=lambda refusal: 0 if refusal[0] < 500 else 1)
                error = classify_reply("rcpt", code, text)
        self.sends.append(RecordedSend(settings, envelope, data, result, error))
        if error is not None:
            raise error
        assert result is not None
        return result

    async def aclose(self) -> None:
        self.closed = True

    # -- inspection -------------------------------------------------------------------------------

    @property
    def delivered(self) -> list[RecordedSend]:
        """The sends that succeeded."""
        return [s for s in self.sends if s.result is not None]
