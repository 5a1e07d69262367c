#!/usr/bin/env bash
# Prints the interpreter `make` builds the venv from: the distribution's python3 when it is 3.11 or
# newer and can make a venv, else the first python3 on PATH.
#
# Why the distribution's first: Debian's (and most distributions') CPython is compiled with
# profile-guided optimisation into a static executable; a default pyenv build is neither, and runs
# mailcard's pipeline about a tenth slower (README, "Benchmarks"). `make PYTHON=...` overrides.
set -euo pipefail
for candidate in /usr/bin/python3 python3; do
    if path=$(command -v "$candidate") \
        && "$path" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "$path"
        exit 0
    fi
done
echo python3  # none qualifies: let `python3 -m venv` say what is missing
