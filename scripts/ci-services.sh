#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis servers the server tests use are
# answering on this machine, starting them if they are not, and that the
# test database exists. It exports nothing: the tests read
#
#   AMI_AUDIT_TEST_POSTGRES   e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   AMI_AUDIT_TEST_REDIS      e.g. redis://127.0.0.1:6379/0
#   AMI_AUDIT_REQUIRE_SERVERS 1: a server test that would skip fails instead
#
# (.ci/run sets them). Each test works in a PostgreSQL schema and under a
# Redis key prefix of its own, so the servers may be shared.
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT=5432
PGDB=test
REDIS_PORT=6379
WAIT_SECONDS=30

pg_ready() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT" 2>/dev/null; }
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

wait_for() {
	local what=$1 check=$2
	for _ in $(seq $((WAIT_SECONDS * 10))); do
		if $check; then
			echo "ci-services: $what is answering"
			return 0
		fi
		sleep 0.1
	done
	echo "ci-services: $what did not answer within ${WAIT_SECONDS}s" >&2
	return 1
}

if ! pg_ready; then
	version=$(ls /etc/postgresql | sort -V | tail -1)
	echo "ci-services: starting PostgreSQL $version"
	pg_ctlcluster --skip-systemctl-redirect "$version" main start
fi
wait_for PostgreSQL pg_ready

# The test database; tests create and drop their own schemas in it.
psql_admin() { psql -v ON_ERROR_STOP=1 -qtA "postgres://postgres@$PGHOST_ADDR:$PGPORT/postgres?sslmode=disable" "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PGDB'")" != "1" ]; then
	echo "ci-services: creating database $PGDB"
	psql_admin -c "CREATE DATABASE $PGDB"
fi

if ! redis_ready; then
	echo "ci-services: starting Redis"
	mkdir -p /var/lib/redis /var/log/redis
	redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for Redis redis_ready
