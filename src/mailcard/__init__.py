"""mailcard: personal, safe, reliable customer e-mail over your own SMTP server.

The public surface is listed in ``__all__``; everything else is internal and may change.
"""

from mailcard.errors import (
    ConfigurationError,
    ContentBlockedError,
    DeliveryError,
    InputError,
    MailcardError,
    TemplateError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "ContentBlockedError",
    "DeliveryError",
    "InputError",
    "MailcardError",
    "TemplateError",
    "__version__",
]
