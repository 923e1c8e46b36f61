#!/usr/bin/env bash
# Installs the system tools and servers the tests drive: STILTS (taplint, tapquery, tapskymatch,
# votlint), Chromium (the query page's tests, tests/gateway/test_web_browser.py), PostgreSQL 15
# with pgSphere (started on 127.0.0.1 for the pgSphere tests) and GAVO
# DaCHS (an external TAP backend on 127.0.0.1:${DACHS_PORT:-8089}, tests/gateway/test_dachs_backend.py).
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
# Debian's Chromium for the query page's browser tests (Playwright drives it; never
# `playwright install`, which downloads a browser build).
if [ ! -x /usr/bin/chromium ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium >/dev/null
fi
# DaCHS first: it pins the shared PostgreSQL cluster 15/main to port 5432 (DaCHS needs that), which
# install_postgres.sh then finds running. About 80 s from clean, under a second when running.
# A failure does not stop the other checks: test_dachs_backend.py fails in CI and says why.
if ! bash install_dachs.sh >/dev/null; then
  echo "install_system_tools: install_dachs.sh failed; the DaCHS backend tests will fail" >&2
fi
bash install_postgres.sh >/dev/null
# Redis on 127.0.0.1:6379 for the job-queue tests (tests/gateway/uws/). The project's machines
# start one before every session; elsewhere install and start it, saving nothing to disk.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if ! command -v redis-server >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/adqlgw-redis.log
fi
