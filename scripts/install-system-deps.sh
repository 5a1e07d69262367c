#!/usr/bin/env bash
# Installs the Debian packages the real-server tests and benchmarks need, when they are missing:
#   postfix (its smtp-source/smtp-sink test tools ship in the same package on Debian 12, /usr/sbin),
#   dovecot-core, postgresql (server binaries), chromium, and PHP with Twig (php-cli, php-mbstring,
#   php-twig: the reference the template engine is tested against).
# Idempotent and a fast no-op when everything is present. As root it installs; otherwise it says
# what to install and fails only under CI=true (where nothing may be skipped).
# The distribution's own postfix/dovecot/postgresql services are never left running: the test
# fixtures (tests/support) start private instances on free loopback ports, and the system daemons
# would only hold ports 25/143/5432.
set -euo pipefail

need=()
[[ -x /usr/sbin/postfix ]] || command -v postfix >/dev/null 2>&1 || need+=(postfix)
[[ -x /usr/sbin/smtp-source && -x /usr/sbin/smtp-sink ]] || need+=(postfix)
[[ -x /usr/sbin/dovecot ]] || command -v dovecot >/dev/null 2>&1 || need+=(dovecot-core)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v php >/dev/null 2>&1 || need+=(php-cli)
[[ -f /usr/share/php/Twig/autoload.php ]] || need+=(php-twig)
if ! command -v php >/dev/null 2>&1 || ! php -m 2>/dev/null | grep -qx mbstring; then need+=(php-mbstring); fi

stop_system_services() {
  # Debian starts these on install (or at boot); the fixtures never use them.
  local service
  for service in postfix dovecot postgresql; do
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now "$service" >/dev/null 2>&1 || true
    else
      # No systemd (containers): stop via the init script and keep it from starting at boot.
      if command -v service >/dev/null 2>&1; then
        service "$service" stop >/dev/null 2>&1 || true
      fi
      if command -v update-rc.d >/dev/null 2>&1; then
        update-rc.d "$service" disable >/dev/null 2>&1 || true
      fi
    fi
  done
}

system_services_running() {
  # The system instances' pid files; our fixtures keep theirs under /tmp.
  [[ -s /var/spool/postfix/pid/master.pid || -s /run/dovecot/master.pid ]] && return 0
  compgen -G "/run/postgresql/*.pid" >/dev/null
}

if ((${#need[@]} == 0)); then
  if [[ $(id -u) -eq 0 ]] && system_services_running; then
    stop_system_services
  fi
  exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

if [[ $(id -u) -ne 0 ]]; then
  echo "Missing system packages: ${need[*]} (install with: sudo $0  or  sudo apt-get install ${need[*]})" >&2
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 0
fi

echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# "No configuration": installs without a main.cf and without starting a mail system.
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
stop_system_services
echo "System packages ready."
