"""Delivery: handing rendered messages to an SMTP server, and saying plainly why it failed.

This package owns the SMTP side only: settings and URL parsing (:mod:`.settings`), the reason
catalogue (:mod:`.reasons`), classification of failures (:mod:`.classify`), the transport seam the
worker depends on (:mod:`.transport`) with its fake (:mod:`.fake`), the aiosmtplib-based transport
(:mod:`.smtp`) and the connection test (:mod:`.probe`). The outbox and the worker live elsewhere.
Nothing outside this package imports aiosmtplib.
"""
