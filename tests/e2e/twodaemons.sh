#!/usr/bin/env bash
# Two daemons on one control database: each task runs exactly once, both
# mounts show every task, a pool's limit holds across both, and a reader
# on one mount is woken by a task the other ran.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool pair]\ntarget = main\nmax_workers = 2\n'
}

N=100
pg_start
psql_ref -d app -q -c "CREATE TABLE runs (k int)" \
	-c "CREATE TABLE peak (n int)"
pgqfs_start a || t_bail "daemon a did not start"
pgqfs_start b || t_bail "daemon b did not start"
A=$(mnt a)
B=$(mnt b)
W=$E2E_TMP/work
mkdir -p "$W"

for k in $(seq "$N"); do
	printf 'INSERT INTO runs VALUES (%d);\nSELECT pg_sleep(0.02);\nSELECT %d AS k;\n' "$k" "$k" >"$W/t$k.sql"
done
for k in $(seq "$N"); do
	if [ $((k % 2)) -eq 0 ]; then m=$A; else m=$B; fi
	cp "$W/t$k.sql" "$m/queue/fast/t$k.sql" || t_fail "cp t$k.sql"
done
count_done() {
	[ "$(awk '$1 == "done" { print $2 }' "$1/stats")" = "$N" ]
}
t_ok "all $N tasks are done (seen from a)" wait_until 60 count_done "$A"
t_ok "all $N tasks are done (seen from b)" count_done "$B"
t_is "$(ls "$A/done" | wc -l)" "$N" "a lists every task in done/"
t_is "$(ls "$A/done" | sort)" "$(ls "$B/done" | sort)" "b lists the same tasks"
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM runs")" "$N" "$N runs for $N tasks"
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM (SELECT k FROM runs GROUP BY k HAVING count(*) > 1) d")" \
	0 "no task ran twice"
daemons=$(cat "$A"/done/*/info | grep '^daemon=' | sort -u | wc -l)
t_is "$daemons" 2 "both daemons ran tasks"
some=$(ls "$A/done" | head -n 1)
t_cmp "$A/done/$some/result" "$B/done/$some/result" "both mounts show the same result"

# The pool limit (2) holds across both daemons.
cat >"$W/slow.sql" <<'SQL'
SELECT pg_sleep(0.4);
SQL
sampler() {
	local end=$((SECONDS + 20))
	while [ $SECONDS -lt $end ]; do
		psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %'
			AND query LIKE '%SELECT pg_sleep(0.4);' AND state = 'active'" \
			>>"$W/peaks" 2>/dev/null
		sleep 0.05
	done
}
sampler &
spid=$!
for k in $(seq 8); do
	if [ $((k % 2)) -eq 0 ]; then m=$A; else m=$B; fi
	cp "$W/slow.sql" "$m/queue/pair/slow$k.sql"
done
pair_done() {
	[ "$(awk '$1 == "pool.pair.done" { print $2 }' "$A/stats")" = 8 ]
}
t_ok "8 tasks of the pool of 2 finish" wait_until 30 pair_done
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
peak=$(sort -n "$W/peaks" | tail -n 1)
t_ok "at most 2 ran at once across both daemons (peak $peak)" test "${peak:-9}" -le 2 -a "${peak:-0}" -ge 1

# A reader on a waits for a task that b runs.
echo "SELECT pg_sleep(0.5), 'from b' AS who;" >"$W/b.sql"
id=$(cat "$B/new-id")
cp "$W/b.sql" "$B/queue/default/$id.sql"
t_is "$(timeout 20 cat "$A/tasks/$id/wait")" done "a's wait is woken by b's task"

# A name pending through b is refused on a: at open() when a asks the
# store, and at close() when a's kernel had just cached the name as absent
# (the store's unique index decides; nothing of a's writer is queued).
echo "SELECT pg_sleep(3);" >"$W/hold.sql"
cp "$W/hold.sql" "$B/queue/pair/hold1.sql"
cp "$W/hold.sql" "$B/queue/pair/hold2.sql"
echo "SELECT 'from b' AS who;" >"$W/dupb.sql"
echo "SELECT 'from a' AS who;" >"$W/dupa.sql"
stat "$A/queue/pair/race.sql" >/dev/null 2>&1	# a caches: no such name
cp "$W/dupb.sql" "$B/queue/pair/race.sql"
t_like "$(cp "$W/dupa.sql" "$A/queue/pair/race.sql" 2>&1)" 'Device or resource busy' \
	"a cp on a of a name b made pending a moment before: EBUSY"
sleep 1.1	# past the kernel's and the daemon's 1 s negative entries
t_like "$(cp "$W/dupa.sql" "$A/queue/pair/race.sql" 2>&1)" 'cannot create regular file.*Device or resource busy' \
	"later, a refuses it at open()"
t_file_is "$A/queue/pair/race.sql" "SELECT 'from b' AS who;"$'\n' "the pending task is b's, untouched"
t_is "$(grep -l '^name=race.sql$' "$A"/tasks/*/info | wc -l)" 1 "only one task has that name"
rm -f "$B/queue/pair/race.sql" "$B/queue/pair/hold2.sql"

# One daemon stops; the other carries on with the shared queue.
pgqfs_stop b
echo "SELECT 'after b left' AS msg;" >"$W/after.sql"
id=$(cat "$A/new-id")
cp "$W/after.sql" "$A/queue/default/$id.sql"
t_is "$(timeout 20 cat "$A/tasks/$id/wait")" done "a runs tasks alone"

# A daemon killed while it runs a task: the other one, which shares the
# queue, finds it gone (its session's advisory lock is free) and fails the
# task with an unknown outcome, within seconds, without a restart.
pgqfs_start b || t_bail "daemon b did not start again"
B=$(mnt b)
echo "SELECT pg_sleep(30);" >"$W/long.sql"
id=$(cat "$B/new-id")
cp "$W/long.sql" "$B/queue/default/$id.sql"
wait_file_content "$A/tasks/$id/state" running 10
t_like "$(grep '^daemon=' "$A/tasks/$id/info")" ":${PGQFS_PID[b]}\$" "the task runs on b"
pgqfs_kill9 b
t_is "$(timeout 30 cat "$A/tasks/$id/wait")" failed "a fails b's task once b is gone"
t_like "$(cat "$A/tasks/$id/error")" 'outcome is unknown' "its error says the outcome is unknown"
t_done
