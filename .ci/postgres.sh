# Sourced by .ci/run: start a throwaway PostgreSQL cluster on a free local port, load the test tables,
# export CONTINUUM_TEST_POSTGRES_URL. Debian's packages; nothing is downloaded at run time but them.
pg_setup() {
  local python="$1"
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then  # a client-only install has bin/ but no server
    if command -v apt-get >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) \
        || { echo "warning: could not install PostgreSQL; the warehouse tests will skip"; return 0; }
    else
      echo "warning: no PostgreSQL and no apt-get; the warehouse tests will skip"; return 0
    fi
  fi
  PGBIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
  PGDATA_DIR="$(mktemp -d /tmp/continuum-pg.XXXXXX)"
  local as=()
  if [ "$(id -u)" = "0" ]; then  # initdb refuses root: run the cluster as the postgres user
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$PGDATA_DIR"
    as=(runuser -u postgres --)
  fi
  PGPORT="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "${as[@]}" "$PGBIN/initdb" -D "$PGDATA_DIR/data" -A trust -U continuum -E UTF8 --no-locale >/dev/null
  "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/server.log" -w -t 60 \
    -o "-p $PGPORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  trap pg_teardown EXIT
  "${as[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U continuum continuum
  export CONTINUUM_TEST_POSTGRES_URL="postgresql://continuum@127.0.0.1:$PGPORT/continuum"
  "$python" .ci/load_postgres.py "$CONTINUUM_TEST_POSTGRES_URL"
}

pg_teardown() {
  if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR/data" ]; then
    local as=()
    [ "$(id -u)" = "0" ] && as=(runuser -u postgres --)
    "${as[@]}" "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDATA_DIR"
  fi
}
