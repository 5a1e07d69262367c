"""Test-support package: real-server fixtures shared by tests and benchmarks.

Owns nothing but the package marker.  The modules are:

* :mod:`tests.support.postfix_tools` - pytest-independent process helpers
  (free loopback ports, waiting for a port with a deadline, Postfix's
  ``smtp-sink``/``smtp-source``).  ``bench/`` imports this module after
  putting the repository root on ``sys.path``.
* :mod:`tests.support.postfix` - a private Postfix + Dovecot instance.
* :mod:`tests.support.postgres` - a throwaway PostgreSQL cluster.
"""
