#!/usr/bin/env bash
# Install the Debian packages gatekeeper's tests, demo and bench run against, if missing.
# Each entry is "command:package"; only packages whose command is absent are installed.
set -euo pipefail
needed=()
for entry in "$@"; do
  cmd=${entry%%:*}
  pkg=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || needed+=("$pkg")
done
[ ${#needed[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${needed[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${needed[@]}" >/dev/null
