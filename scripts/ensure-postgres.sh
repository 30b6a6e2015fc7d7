#!/usr/bin/env bash
# Finds a Postgres server for the tests, or starts or installs one, and
# exports REKON_TEST_DATABASE_URL. Sourced by scripts/test. Fails loudly:
# the Postgres tests never skip.
#
# Order: REKON_TEST_DATABASE_URL, DATABASE_URL (postgres://), the local
# server on 127.0.0.1:5432 (trust auth), a stopped local cluster (started),
# and finally Debian's postgresql package (installed, password auth set up).

pg_answers() {
  # psql when present, else a bare TCP probe; the tests report auth errors themselves.
  local url=$1
  if command -v psql >/dev/null 2>&1; then
    psql "$url" -Atqc 'select 1' >/dev/null 2>&1
  else
    local hostport=${url#*@}; hostport=${hostport%%/*}
    (exec 3<>"/dev/tcp/${hostport%%:*}/${hostport##*:}") 2>/dev/null
  fi
}

start_local_cluster() {
  [ -d /etc/postgresql ] || return 1
  command -v pg_ctlcluster >/dev/null 2>&1 || return 1
  local version
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
  done
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 1
  done
  return 1
}

install_postgres() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || return 1
  echo "ensure-postgres: installing Debian's postgresql package" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
  start_local_cluster || return 1
  # Debian's cluster wants a password over TCP: give the superuser one for tests.
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
}

ensure_postgres() {
  local candidates=()
  [ -n "${REKON_TEST_DATABASE_URL:-}" ] && candidates+=("$REKON_TEST_DATABASE_URL")
  case "${DATABASE_URL:-}" in postgres*) candidates+=("$DATABASE_URL") ;; esac
  candidates+=("postgres://postgres@127.0.0.1:5432/postgres" "postgres://postgres:postgres@127.0.0.1:5432/postgres")
  local url
  for url in "${candidates[@]}"; do
    if pg_answers "$url"; then export REKON_TEST_DATABASE_URL=$url; return 0; fi
  done
  if start_local_cluster || install_postgres; then
    for url in "postgres://postgres@127.0.0.1:5432/postgres" "postgres://postgres:postgres@127.0.0.1:5432/postgres"; do
      if pg_answers "$url"; then export REKON_TEST_DATABASE_URL=$url; return 0; fi
    done
  fi
  echo "ensure-postgres: FAILED: no Postgres server could be found, started or installed." >&2
  echo "  Set REKON_TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres (a role that may CREATE DATABASE)." >&2
  return 1
}

ensure_postgres
