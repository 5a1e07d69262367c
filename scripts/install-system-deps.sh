#!/usr/bin/env bash
# Installs the Debian packages the real-server tests and benchmarks need, when they are missing:
#   postfix (with smtp-source/smtp-sink), dovecot-core, postgresql (server binaries), chromium.
# Idempotent and quick when everything is present. As root it installs; otherwise it says what to
# install and fails only under CI=true (where nothing may be skipped).
# The distribution's own services are never left running: the test fixtures start private instances.
set -euo pipefail

need=()
command -v postfix >/dev/null 2>&1 || [[ -x /usr/sbin/postfix ]] || need+=(postfix)
[[ -x /usr/sbin/smtp-source && -x /usr/sbin/smtp-sink ]] || need+=(postfix)
command -v dovecot >/dev/null 2>&1 || [[ -x /usr/sbin/dovecot ]] || need+=(dovecot-core)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if ((${#need[@]} == 0)); then
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [[ $(id -u) -ne 0 ]]; then
  echo "Missing system packages: ${need[*]} (install with: sudo apt-get install ${need[*]})" >&2
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 0
fi

echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

# Keep package scripts from starting the system's postfix/dovecot/postgresql (they would hold ports).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if ((created_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# Stop anything a package started anyway (containers without an init system ignore policy-rc.d).
for service in postfix dovecot postgresql; do
  if command -v service >/dev/null 2>&1; then
    service "$service" stop >/dev/null 2>&1 || true
  fi
done
echo "System packages ready."
