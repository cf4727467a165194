#!/usr/bin/env bash
# Install the Debian packages gatekeeper's tests, demo and bench run against, if missing.
# Each entry is "command:package"; only packages whose command is absent are installed.
# Waits (up to LOCK_WAIT seconds, default 600) while another apt/dpkg holds the lock, and
# shows apt's download and setup lines as they happen.
set -euo pipefail
needed=()
for entry in "$@"; do
  cmd=${entry%%:*}
  pkg=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
# De-duplicate (apache2-utils serves two commands) while keeping the order.
mapfile -t needed < <(printf '%s\n' "${needed[@]}" | awk '!seen[$0]++')
echo "installing Debian packages: ${needed[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
wait_s=${LOCK_WAIT:-600}

package_manager_running() {
  local name
  for name in apt apt-get aptitude dpkg unattended-upgr; do
    pgrep -a -x "$name" || true
  done | head -n 1
}

wait_for_package_manager() {
  local waited=0 holder
  while holder=$(package_manager_running) && [ -n "$holder" ]; do
    if [ "$waited" -ge "$wait_s" ]; then
      echo "gave up after ${wait_s}s: another package manager is still running: $holder" >&2
      exit 1
    fi
    [ $((waited % 10)) -eq 0 ] && echo "  waiting for another package manager to finish: $holder"
    sleep 2
    waited=$((waited + 2))
  done
}

# Both the wait above and apt's own lock timeout: another run may start in between.
apt_opts=(-q -o "DPkg::Lock::Timeout=$wait_s" -o Dpkg::Use-Pty=0)
wait_for_package_manager
echo "  apt-get update"
$sudo apt-get "${apt_opts[@]}" update | { grep --line-buffered -E '^(Err|W:|E:)' || true; }
wait_for_package_manager
$sudo apt-get "${apt_opts[@]}" install -y --no-install-recommends "${needed[@]}" \
  | { grep --line-buffered -E '^(Get:|Setting up|E:|W:)' | sed -u 's/^/  /' || true; }
echo "installed: ${needed[*]}"
