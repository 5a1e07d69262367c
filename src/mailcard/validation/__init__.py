"""Content validation: pure functions that return structured findings.

::

    from mailcard.validation import ContentToCheck, LinkPolicy, check_content

    report = check_content(ContentToCheck(subject=..., preheader=..., html=..., text=...),
                           policy=LinkPolicy(extra_shorteners=(), allowed_domains=()))
    report.verdict      # "ok" | "warn" | "block"
    report.blocking     # the error findings

Modules: ``findings`` (model), ``content`` (entry point), ``html``/``htmlscan``/``rules``/``css``/
``serialize`` (active content), ``links``/``shorteners``/``urls`` (shortened links), ``headers``
(header injection), ``addresses`` (address parsing).
"""

from mailcard.validation.content import ContentToCheck, check_content
from mailcard.validation.findings import Finding, Location, Report
from mailcard.validation.headers import assert_header_safe
from mailcard.validation.shorteners import LinkPolicy

__all__ = [
    "ContentToCheck",
    "Finding",
    "LinkPolicy",
    "Location",
    "Report",
    "assert_header_safe",
    "check_content",
]
