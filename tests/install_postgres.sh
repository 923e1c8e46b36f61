#!/bin/bash
# install_postgres.sh - install (if needed) and start PostgreSQL 15 with pg_sphere on
# 127.0.0.1, and create a test database with the extension, for tests/planners/test_pgsphere.py.
#
# Idempotent: every step is skipped when it is already done. Needs root and Debian bookworm.
# Modelled on the postgres part of the shared tools/dachs-up.sh.
#
# Env:
#   PGSPHERE_DB    (default adqlgw_test)  database to create (owned by PGSPHERE_USER)
#   PGSPHERE_USER  (default adqlgw)       role to create (password PGSPHERE_PASSWORD)
#   PGSPHERE_PASSWORD (default adqlgw)
#
# Prints a libpq connection URL on stdout when the server is ready.
set -euo pipefail

PGVER=15
DB="${PGSPHERE_DB:-adqlgw_test}"
ROLE="${PGSPHERE_USER:-adqlgw}"
PASSWORD="${PGSPHERE_PASSWORD:-adqlgw}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install_postgres] %s\n' "$*" >&2; }
pgsql() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA $*"; }

[ "$(id -u)" = 0 ] || { echo "install_postgres.sh must run as root" >&2; exit 1; }

# ---------------------------------------------------------------- packages
need_pkgs=()
for p in postgresql-$PGVER postgresql-$PGVER-pgsphere; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${need_pkgs[*]}"
  if ! apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${need_pkgs[@]}" \
      >/tmp/install_postgres-apt.log 2>&1; then
    apt-get -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1
    apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${need_pkgs[@]}" \
      >/tmp/install_postgres-apt.log 2>&1 || { tail -20 /tmp/install_postgres-apt.log; exit 1; }
  fi
fi

# ---------------------------------------------------------------- pgsphere fix
# bookworm's pgsphere (extension version 1.2.0) defines two legacy "@" operators on smoc
# whose COMMUTATOR clashes with the stricter check back-ported to PostgreSQL 15.19+:
# "CREATE EXTENSION pg_sphere" then fails ("commutator operator @> is already the
# commutator of operator <@"). Upstream dropped them; we delete the two definitions,
# only when postgresql-15 is newer than 15.18, keeping a backup as .orig.
PGS_SQL=/usr/share/postgresql/$PGVER/extension/pg_sphere--1.2.0.sql
PGV=$(dpkg-query -W -f='${Version}' postgresql-$PGVER 2>/dev/null || echo 0)
if [ -f "$PGS_SQL" ] && dpkg --compare-versions "$PGV" gt 15.18-0+deb12u1 &&
   grep -B2 "RIGHTARG   = smoc,\$" "$PGS_SQL" | grep -q "CREATE OPERATOR @ ("; then
  log "postgresql-$PGVER $PGV: removing pgsphere's legacy '@' smoc operators"
  cp -n "$PGS_SQL" "$PGS_SQL.orig"
  /usr/bin/python3 - "$PGS_SQL" <<'PY'
import re
import sys

path = sys.argv[1]
with open(path) as fh:
    text = fh.read()
pattern = re.compile(
    r"CREATE OPERATOR @ \(\s*LEFTARG\s*=\s*(bigint|spoint),\s*RIGHTARG\s*=\s*smoc,.*?\);\n", re.S
)
text, count = pattern.subn("", text)
with open(path, "w") as fh:
    fh.write(text)
print(f"removed {count} operator definitions", file=sys.stderr)
PY
fi

# ---------------------------------------------------------------- cluster
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$PGVER main"; then
  log "creating cluster $PGVER/main"
  pg_createcluster $PGVER main >/dev/null
fi
PGCONF=/etc/postgresql/$PGVER/main/postgresql.conf
if ! grep -q "^listen_addresses = 'localhost'" "$PGCONF"; then
  echo "listen_addresses = 'localhost'" >>"$PGCONF"   # loopback only
fi
PORT=$(pg_lsclusters -h | awk -v v=$PGVER '$1==v && $2=="main"{print $3}')
if ! pg_lsclusters -h | awk -v v=$PGVER '$1==v && $2=="main"{print $4}' | grep -q online; then
  log "starting cluster $PGVER/main on port $PORT"
  pg_ctlcluster $PGVER main start
fi
for _ in $(seq 1 60); do
  pgsql "-c 'select 1'" >/dev/null 2>&1 && break
  sleep 0.5
done

# ---------------------------------------------------------------- role, database, extension
if ! pgsql "-c \"select 1 from pg_roles where rolname='$ROLE'\"" | grep -q 1; then
  log "creating role $ROLE"
  pgsql "-c \"create role $ROLE login password '$PASSWORD'\""
fi
if ! pgsql "-c \"select 1 from pg_database where datname='$DB'\"" | grep -q 1; then
  log "creating database $DB"
  su postgres -c "createdb --encoding=UTF-8 --template template0 --owner $ROLE $DB"
fi
if ! pgsql "-d $DB -c \"select 1 from pg_extension where extname='pg_sphere'\"" | grep -q 1; then
  log "creating extension pg_sphere in $DB"
  pgsql "-d $DB -c 'create extension pg_sphere'"
fi

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
