#!/usr/bin/env bash
# Installs the system tools the interop tests drive: STILTS (taplint, tapquery, tapskymatch,
# votlint) and PostgreSQL 15 with pgSphere (started on 127.0.0.1 for the pgSphere tests).
# Does nothing that is already done; needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_tools: not root; STILTS/PostgreSQL tests need them installed already" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v stilts >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends stilts >/dev/null
fi
bash install_postgres.sh >/dev/null
