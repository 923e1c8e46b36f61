#!/usr/bin/env bash
# Installs the Debian tools the interop tests drive: STILTS (taplint, tapquery, tapskymatch,
# votlint). Does nothing when they are present; needs root (CI runs as root).
set -euo pipefail
if command -v stilts >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_tools: stilts missing and cannot apt-get install it; interop tests will fail" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends stilts >/dev/null
