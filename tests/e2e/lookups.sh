#!/usr/bin/env bash
# Lookups of new names in a burst: while files pour into a pool, the
# daemon reads the pool's pending names once a second instead of asking
# the control database about each new name (fs_absent.c), and keeps every
# promise of the per-name lookup:
#   - the burst costs a few whole-pool reads, not a read per file (counted
#     in the server's statement log), and every file runs exactly once;
#   - a name queued through another daemon shows in this mount's lookups
#     within the 1 s the kernel's negative entries already allow, and a cp
#     of it here never replaces it (EBUSY);
#   - a name this daemon queued is never answered absent, even after it
#     has left the daemon's memory of just-released files and the pool's
#     set was read before it was queued: a second cp is refused at open().
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$SRCDIR/e2e/lib.sh"

pg_start
# Every statement of the daemons' control sessions goes to the log.
psql_ref -q -c "ALTER DATABASE pgqfs_ctl SET log_statement = 'all'" ||
	t_bail "cannot set log_statement"
psql_ref -d app -q -c "CREATE TABLE runs (k text)"
pgqfs_start a || t_bail "daemon a did not start"
pgqfs_start b || t_bail "daemon b did not start"
A=$(mnt a)
B=$(mnt b)
W=$E2E_TMP/work
mkdir -p "$W"
LOG=$PG_DIR/postgres.log
per_name() { grep -c 'AND name = \$2 AND state IN' "$LOG"; }
whole_pool() { grep -c "SELECT pending_names(" "$LOG"; }

# 1. A burst of 300 new names from 4 writers.
for k in $(seq 300); do
	printf "INSERT INTO runs VALUES ('w%d');\n" "$k" >"$W/w$k.sql"
done
n0=$(per_name)
s0=$(whole_pool)
writers=()
for j in 0 1 2 3; do
	(for k in $(seq $((j + 1)) 4 300); do
		cp "$W/w$k.sql" "$A/queue/fast/w$k.sql" || echo "w$k" >>"$W/cp.failed"
	done) &
	writers+=($!)
done
wait "${writers[@]}"
t_ok "every cp of the burst succeeded" test ! -e "$W/cp.failed"
burst_done() {
	[ "$(psql_ref -d app -tAc "SELECT count(*) FROM runs WHERE k LIKE 'w%'")" -ge 300 ]
}
t_ok "the 300 files ran" wait_until 60 burst_done
t_is "$(psql_ref -d app -tAc "SELECT count(*), count(DISTINCT k) FROM runs WHERE k LIKE 'w%'")" \
	"300|300" "each exactly once"
n1=$(per_name)
s1=$(whole_pool)
t_ok "the burst asked about $((n1 - n0)) names one by one (of 300 new ones)" \
	test $((n1 - n0)) -lt 60
t_ok "and read the pool's pending names $((s1 - s0)) times instead (at least once)" \
	test $((s1 - s0)) -ge 1 -a $((s1 - s0)) -lt 60

# 2. A burst goes on in the background while the checks below run.
printf "SELECT 1;\n" >"$W/bg.sql"
( k=0; while [ ! -e "$W/bg.stop" ]; do
	k=$((k + 1))
	cp "$W/bg.sql" "$A/queue/fast/bg$k.sql" 2>/dev/null
	sleep 0.01
done ) &
bg=$!
# A task that holds the others back: queued tasks waiting for it keep
# their names pending.
hold=$(cat "$A/new-id")
printf "SELECT pg_sleep(20);\n" >"$W/hold.sql"
cp "$W/hold.sql" "$A/queue/default/$hold.sql" || t_fail "cp hold"
s2=$(whole_pool)
sleep 1.5
t_ok "the background burst reads the pool's names" test "$(whole_pool)" -gt "$s2"

# A name queued through b: a's lookups see it within about a second.
printf -- "-- pgqfs: after=%s\nSELECT 'from b';\n" "$hold" >"$W/x.sql"
cp "$W/x.sql" "$B/queue/fast/x.sql" || t_fail "cp x.sql through b"
start=$(now_ms)
seen=
for _ in $(seq 60); do
	if [ -e "$A/queue/fast/x.sql" ]; then
		seen=$(($(now_ms) - start))
		break
	fi
	sleep 0.05
done
t_ok "a sees x.sql, queued through b, within 1.5 s (${seen:-never} ms)" \
	test -n "$seen" -a "${seen:-9999}" -le 1500
printf 'SELECT 2;\n' >"$W/other.sql"
t_like "$(cp "$W/other.sql" "$A/queue/fast/x.sql" 2>&1)" \
	'Device or resource busy' "a cp of it on a is refused"
t_file_is "$A/queue/fast/x.sql" "$(cat "$W/x.sql")"$'\n' "b's task is untouched"

# Names a queued itself, once they have left a's memory of just-released
# files (its next claim settles them): the pool's set, read before they
# were queued, never answers them absent.
for i in 1 2 3 4 5; do
	printf -- "-- pgqfs: after=%s\nSELECT 'y%d';\n" "$hold" "$i" >"$W/y$i.sql"
	cp "$W/y$i.sql" "$A/queue/fast/y$i.sql" || t_fail "cp y$i.sql"
	sleep 0.3
	t_like "$(cp "$W/other.sql" "$A/queue/fast/y$i.sql" 2>&1)" \
		'cannot create regular file.*Device or resource busy' \
		"a second cp of y$i.sql, 0.3 s later, is refused at open()"
	t_file_is "$A/queue/fast/y$i.sql" "$(cat "$W/y$i.sql")"$'\n' "and y$i.sql is untouched"
done
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE name ~ '^(x|y[1-5])\.sql$'")" \
	6 "one task each for x.sql and y1.sql to y5.sql"

touch "$W/bg.stop"
wait "$bg"
echo 1 >"$A/tasks/$hold/cancel"
t_is "$(task_wait "$hold" 30)" cancelled "the holding task is cancelled"
t_done
