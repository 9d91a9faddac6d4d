#!/usr/bin/env bash
# Makes sure the Debian tools ferry needs are present. `ensure-tools.sh demo`: what the demo
# needs — docker-registry (CNCF distribution), skopeo, openssl. `ensure-tools.sh` (the tests):
# those, and Java 17 (DynamoDB Local), iproute2 (its loopback-only namespace) and chromium (the
# status page's browser test). Installs them when running as root; otherwise prints the exact
# command to run and stops.
set -euo pipefail
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${1:-test}" != "demo" ]; then
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless) # DynamoDB Local
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)                  # its loopback-only namespace
  [ -x /usr/bin/chromium ] || missing+=(chromium)                        # the status page's browser test (playwright-core)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ferry: installing ${missing[*]} (Debian packages)…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  exit 0
fi
echo "ferry: missing ${missing[*]}. Install with:" >&2
echo "  sudo apt-get install -y ${missing[*]}" >&2
exit 1
