#!/usr/bin/env bash
# Tries pgqfs for real on this machine: builds it, starts a scratch
# PostgreSQL cluster in a temporary directory, mounts pgqfs, submits a job
# with cp, waits for it and shows its result, then tears everything down.
#
#   contrib/quickstart.sh          # the tour, then clean up
#   contrib/quickstart.sh --keep   # leave the cluster and the mount running
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1

. contrib/deps.sh
pgqfs_deps

if [ -t 1 ]; then
	say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

say "1. build"
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
PGQFS=$PWD/build/pgqfs

say "2. a scratch PostgreSQL cluster"
bindir=/usr/lib/postgresql/15/bin
[ -x "$bindir/initdb" ] || bindir=$(pg_config --bindir)
tmp=$(mktemp -d /tmp/pgqfs-quickstart.XXXXXX)
run=()
if [ "$(id -u)" -eq 0 ]; then
	# PostgreSQL refuses to run as root.
	chown postgres "$tmp"
	run=(runuser -u postgres --)
fi
"${run[@]}" "$bindir/initdb" -A trust --nosync -U postgres -D "$tmp/data" >/dev/null
port=$((20000 + RANDOM % 20000))
"${run[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/postgres.log" -w \
	-o "-k $tmp -c listen_addresses= -p $port" start >/dev/null
export PGHOST=$tmp PGPORT=$port PGUSER=postgres
"$bindir/psql" -X -q -d postgres -c "CREATE DATABASE pgqfs" -c "CREATE DATABASE app"
echo "cluster in $tmp/data, socket $tmp, port $port"

cleanup() {
	if [ "$keep" -eq 0 ]; then
		fusermount3 -u "$tmp/mnt" 2>/dev/null || true
		[ -n "${pid:-}" ] && wait "$pid" 2>/dev/null || true
		"${run[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m fast stop >/dev/null 2>&1 || true
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

say "3. mount pgqfs"
cat >"$tmp/pgqfs.conf" <<CONF
[pgqfs]
control = host=$tmp port=$port user=postgres dbname=pgqfs

[target main]
conninfo = host=$tmp port=$port user=postgres dbname=app
max_workers = 8

[pool default]
target = main
max_workers = 4
CONF
mkdir "$tmp/mnt"
"$PGQFS" -f -c "$tmp/pgqfs.conf" "$tmp/mnt" >"$tmp/pgqfs.log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 100); do mountpoint -q "$tmp/mnt" && break; sleep 0.1; done
mountpoint -q "$tmp/mnt" || { cat "$tmp/pgqfs.log"; exit 1; }
M=$tmp/mnt
echo "mounted at $M:"
ls "$M"

say "4. submit a job: reserve an id, cp the file, wait, read the result"
cat >"$tmp/hello.sql" <<'SQL'
CREATE TEMP TABLE t AS SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 3) g;
SELECT n, label, n * n AS square FROM t ORDER BY n;
SQL
echo "\$ id=\$(cat $M/new-id)";            id=$(cat "$M/new-id"); echo "$id"
echo "\$ cp hello.sql $M/queue/default/\$id.sql"; cp "$tmp/hello.sql" "$M/queue/default/$id.sql"
echo "\$ cat $M/tasks/\$id/wait";          cat "$M/tasks/$id/wait"
echo "\$ cat $M/done/\$id/result";         cat "$M/done/$id/result"
echo "\$ cat $M/tasks/\$id/log";           cat "$M/tasks/$id/log"

say "5. a failing job says why"
echo "SELECT * FROM no_such_table;" >"$tmp/broken.sql"
id=$(cat "$M/new-id")
cp "$tmp/broken.sql" "$M/queue/default/$id.sql"
echo "\$ cat $M/tasks/$id/wait";  cat "$M/tasks/$id/wait"
echo "\$ cat $M/failed/$id/error"; cat "$M/failed/$id/error"

if [ "$keep" -eq 1 ]; then
	say "left running"
	echo "mount:   $M   (daemon pid $pid, log $tmp/pgqfs.log)"
	echo "stop:    fusermount3 -u $M; ${run[*]} $bindir/pg_ctl -D $tmp/data stop"
else
	say "done: unmounting and removing $tmp"
fi
