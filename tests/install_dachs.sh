#!/bin/bash
# install_dachs.sh - install (if needed), configure and start GAVO DaCHS 2.7 on 127.0.0.1 as the
# external TAP backend of tests/gateway/test_dachs_backend.py, serving the small deterministic
# catalogue of tests/dachs/ (fedtest.stars, fedtest.fields).
#
# Idempotent: each step is skipped when it is already done, so a second run only checks (and,
# if needed, starts postgres and DaCHS). Needs root and Debian bookworm. Listens on loopback only.
#
# PostgreSQL: DaCHS and tests/install_postgres.sh share cluster 15/main. DaCHS insists on port
# 5432 (its "dachs init" writes that into /var/gavo/etc/dsn), so this script pins the cluster
# there; install_postgres.sh then finds it running and reports that port.
#
# Env:
#   DACHS_PORT      (default 8089)  HTTP port of DaCHS (bound to 127.0.0.1)
#   DACHS_WAIT      (default 120)   seconds to wait for /tap/availability
#   DACHS_REIMPORT=1                re-import the resource even when nothing changed
#
# Prints the TAP URL (http://127.0.0.1:$DACHS_PORT/tap) on stdout when the service answers.
set -euo pipefail

PGVER=15
PORT="${DACHS_PORT:-8089}"
WAIT="${DACHS_WAIT:-120}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RES_SRC="$HERE/dachs"
START_NS=$(date +%s%N)
export DEBIAN_FRONTEND=noninteractive

log() {
  local ms=$(( ($(date +%s%N) - START_NS) / 1000000 ))
  printf '[install_dachs %d.%02ds] %s\n' $((ms / 1000)) $(((ms % 1000) / 10)) "$*" >&2
}
as_dachsroot() { su -s /bin/sh dachsroot -c "$*"; }
pg_query() { su postgres -c "psql -qtAc \"$1\" ${2:-postgres}"; }
apt_install() {
  local logf=$1; shift
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >"$logf" 2>&1 && return 0
  apt-get -o DPkg::Lock::Timeout=300 update >>"$logf" 2>&1 || true
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >>"$logf" 2>&1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
# DaCHS's own python3 must not see a virtualenv or pyenv from the caller's environment.
dachs_cmd() { env -i LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/dachs --disable-spew "$@"; }

[ "$(id -u)" = 0 ] || { echo "install_dachs.sh must run as root" >&2; exit 1; }
command -v apt-get >/dev/null || { echo "install_dachs.sh needs apt-get (Debian)" >&2; exit 1; }

# ------------------------------------------------------------------ postgres packages
missing=()
for p in postgresql-$PGVER postgresql-$PGVER-pgsphere postgresql-$PGVER-q3c curl; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  apt_install /tmp/install_dachs-apt-pg.log "${missing[@]}" \
    || { tail -20 /tmp/install_dachs-apt-pg.log >&2; exit 1; }
fi

# ------------------------------------------------------------------ pgsphere vs PostgreSQL 15.19+
# PostgreSQL 15.19 back-ported a stricter commutator check; bookworm's pgsphere 1.2.0 script
# declares two legacy "@" operators on smoc that now fail it, so CREATE EXTENSION pg_sphere
# (and with it "dachs init" in the package postinst) fails. DaCHS never uses these operators:
# drop their definitions (backup kept as .orig). Nothing to do up to 15.18.
PGS_SQL=/usr/share/postgresql/$PGVER/extension/pg_sphere--1.2.0.sql
PG_VERSION=$(dpkg-query -W -f='${Version}' postgresql-$PGVER)
if [ -f "$PGS_SQL" ] && dpkg --compare-versions "$PG_VERSION" gt 15.18-0+deb12u1 &&
   grep -A2 "^CREATE OPERATOR @ (" "$PGS_SQL" | grep -q "RIGHTARG *= *smoc"; then
  log "postgresql-$PGVER $PG_VERSION: removing pgsphere's legacy smoc '@' operators"
  cp -n "$PGS_SQL" "$PGS_SQL.orig"
  /usr/bin/python3 - "$PGS_SQL" <<'PY'
import re
import sys

path = sys.argv[1]
with open(path) as fh:
    sql = fh.read()
legacy = re.compile(r"CREATE OPERATOR @ \(\s*LEFTARG\s*=\s*(?:bigint|spoint),\s*RIGHTARG\s*=\s*smoc,.*?\);\n", re.S)
sql, n = legacy.subn("", sql)
with open(path, "w") as fh:
    fh.write(sql)
print(f"removed {n} operator definitions", file=sys.stderr)
PY
fi

# ------------------------------------------------------------------ cluster 15/main on 5432
if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$PGVER/main"; then
  log "creating cluster $PGVER/main"
  pg_createcluster -p 5432 $PGVER main >/dev/null
fi
PGCONF=/etc/postgresql/$PGVER/main/postgresql.conf
grep -q "^listen_addresses = 'localhost'" "$PGCONF" || echo "listen_addresses = 'localhost'" >>"$PGCONF"
cluster_field() { pg_lsclusters -h | awk -v v=$PGVER -v f="$1" '$1==v && $2=="main"{print $f}'; }
if [ "$(cluster_field 3)" != 5432 ]; then
  log "cluster $PGVER/main is on port $(cluster_field 3); moving it to 5432 (DaCHS needs that)"
  pg_ctlcluster $PGVER main stop 2>/dev/null || true
  pg_conftool $PGVER main set port 5432
fi
if ! cluster_field 4 | grep -q online; then
  log "starting cluster $PGVER/main"
  pg_ctlcluster $PGVER main start
fi
for _ in $(seq 1 60); do pg_query "select 1" >/dev/null 2>&1 && break; sleep 0.5; done

# ------------------------------------------------------------------ /etc/gavo.rc
# Must exist before the package is installed: the postinst runs "dachs init", and serverURL
# ends up in every accessURL DaCHS publishes.
RC=/etc/gavo.rc
RC_TEXT="# written by adql-gateway tests/install_dachs.sh
[general]
rootDir: /var/gavo
logLevel: info

[web]
bindAddress: 127.0.0.1
serverPort: $PORT
serverURL: http://127.0.0.1:$PORT
sitename: adql-gateway test DaCHS

[ivoa]
authority: adqlgw.test"
RESTART=0
if [ ! -f "$RC" ] || [ "$(cat "$RC")" != "$RC_TEXT" ]; then
  log "writing $RC (port $PORT)"
  printf '%s\n' "$RC_TEXT" >"$RC"
  RESTART=1
fi

# ------------------------------------------------------------------ gavodachs2-server
if ! installed gavodachs2-server; then
  # The postinst creates the gavo database and role dachsroot and runs "dachs init"; it needs
  # the running postgres started above. policy-rc.d may deny starting the service: harmless,
  # we start DaCHS ourselves below.
  log "apt-get install gavodachs2-server (about a minute)"
  if ! apt_install /tmp/install_dachs-apt-dachs.log gavodachs2-server; then
    dpkg --configure -a >>/tmp/install_dachs-apt-dachs.log 2>&1 \
      || { tail -30 /tmp/install_dachs-apt-dachs.log >&2; exit 1; }
  fi
fi
# Redo the postinst's database set-up when the database has gone (recreated cluster).
if ! pg_query "select 1 from pg_database where datname='gavo'" | grep -q 1; then
  log "creating database gavo and running dachs init"
  su postgres -c "createdb --encoding=UTF-8 --template template0 gavo"
  su postgres -c "createuser -s dachsroot" 2>/dev/null || true
  mkdir -p /var/gavo && chown dachsroot /var/gavo
  as_dachsroot "dachs init"
fi

# ------------------------------------------------------------------ our resource
# Imported as dachsroot: run as root, "dachs imp" leaves root-owned files the server (user
# gavo) cannot write.
RES=/var/gavo/inputs/fedtest
mkdir -p "$RES/data"
install -m 644 "$RES_SRC/q.rd" "$RES/q.rd"
/usr/bin/python3 "$RES_SRC/gendata.py" "$RES/data"
chown -R dachsroot:gavo "$RES"
# fedtest.images is published to ivoa.obscore (DaCHS's sitewide SIAv2 service reads it): the
# obscore table must exist first, once.
OBSCORE=$(as_dachsroot "psql -qtAc \"select count(*) from tap_schema.tables where table_name = 'ivoa.obscore'\" gavo" 2>/dev/null || echo 0)
if [ "$OBSCORE" != 1 ]; then
  log "dachs imp //obscore"
  as_dachsroot "dachs imp //obscore" >/tmp/install_dachs-obscore.log 2>&1 \
    || { cat /tmp/install_dachs-obscore.log >&2; exit 1; }
  RESTART=1
fi
STAMP=/var/gavo/state/adqlgw-fedtest.md5
DIGEST=$(cat "$RES/q.rd" "$RES"/data/*.csv | md5sum | cut -d' ' -f1)
PUBLISHED=$(as_dachsroot "psql -qtAc \"select count(*) from tap_schema.tables where table_name in ('fedtest.stars', 'fedtest.fields')\" gavo" 2>/dev/null || echo 0)
if [ "${DACHS_REIMPORT:-0}" = 1 ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$DIGEST" ] || [ "$PUBLISHED" != 2 ]; then
  log "dachs imp fedtest/q"
  as_dachsroot "dachs imp fedtest/q" >/tmp/install_dachs-imp.log 2>&1 \
    || { cat /tmp/install_dachs-imp.log >&2; exit 1; }
  as_dachsroot "dachs pub fedtest/q" >>/tmp/install_dachs-imp.log 2>&1 || true
  echo "$DIGEST" >"$STAMP"
  RESTART=1
fi

# ------------------------------------------------------------------ the server
PIDFILE=/var/gavo/state/web.pid
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
if running && [ "$RESTART" = 1 ]; then
  log "restarting DaCHS (configuration or data changed)"
  dachs_cmd serve stop || true
  for _ in $(seq 1 40); do running || break; sleep 0.25; done
fi
if ! running; then
  log "dachs serve start"
  dachs_cmd serve start
fi
URL="http://127.0.0.1:$PORT/tap"
for _ in $(seq 1 $((WAIT * 4))); do
  if curl -sf -o /dev/null "$URL/availability"; then
    log "DaCHS is up: $URL (pid $(cat "$PIDFILE"))"
    echo "$URL"
    exit 0
  fi
  sleep 0.25
done
log "DaCHS did not answer at $URL within ${WAIT}s; last lines of /var/gavo/logs/dcErrors:"
tail -20 /var/gavo/logs/dcErrors >&2 2>/dev/null || true
exit 1
