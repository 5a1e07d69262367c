"""The error users know from the product: transactional sending is disabled until the address is confirmed."""

from __future__ import annotations

from mailcard.errors import SenderNotVerifiedError

USER_MESSAGE = (
    "Transactional e-mail is disabled for this user: confirm the address and allow it to be used as a sender."
)


def sender_not_verified(kind: str, subject_id: int, *, email: str | None = None) -> SenderNotVerifiedError:
    """``sender_not_verified`` with the way to start confirmation (an API call and a CLI command)."""
    if kind == "user":
        message = USER_MESSAGE
    else:
        what = "store's" if kind == "store" else "additional"
        message = (
            f"The {what} sender address {email or ''} is not confirmed, so it cannot send yet: "
            "confirm the address first."
        ).replace("  ", " ")
    return SenderNotVerifiedError(
        message,
        hint=(
            "Start confirmation with POST /api/senders/confirmations "
            f'{{"kind": "{kind}", "id": {subject_id}}}; a link and a code are e-mailed to the address. '
            "Then allow the address as a sender."
        ),
        details={
            "sender": {"kind": kind, "id": subject_id, "email": email},
            "confirm": {
                "method": "POST",
                "path": "/api/senders/confirmations",
                "body": {"kind": kind, "id": subject_id},
            },
        },
    )
