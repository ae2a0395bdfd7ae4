#!/usr/bin/env bash
# Freed slots are taken: when a task ends, any pool that had more queued
# than it could start claims in the statement that records the end, and a
# pool whose queue was empty waits for new work without polling.
#   - Two pools share a target with one connection: a task queued in the
#     first while the second holds the connection starts once the
#     connection is free, although its own pool had no task ending.
#   - A pool at its limit with a queue hands each freed slot on: every
#     task runs, never more at once than the limit (by the recorded
#     times), each exactly once.
#   - Released files wait in priority order behind a running task: the
#     higher priority starts first, then the others in order.
#   - After a pool's queue ran empty, a file released here and a task
#     queued by another daemon both start.
#   - Two daemons claim from one pool while cancels land: a task
#     cancelled before it started never runs, none runs twice.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[target one]\nconninfo = %s\nmax_workers = 1\n' "$PGQFS_TARGET"
	printf '\n[pool first]\ntarget = one\nmax_workers = 4\n'
	printf '\n[pool second]\ntarget = one\nmax_workers = 4\n'
	printf '\n[pool pair]\ntarget = main\nmax_workers = 2\n'
	printf '\n[pool solo]\ntarget = main\nmax_workers = 1\n'
}

pg_start
psql_ref -d app -q -c "CREATE TABLE runs (k int, at timestamptz DEFAULT clock_timestamp())"
# One daemon first: a target's connections are per daemon.
pgqfs_start a || t_bail "daemon a did not start"
A=$(mnt a)
MNT=$A
W=$E2E_TMP/work
mkdir -p "$W"

# id_of POOL NAME: the id of the task NAME in POOL, from info.
id_of() {
	local d
	for d in "$MNT"/tasks/*/; do
		if grep -qx "name=$2" "$d/info" 2>/dev/null && grep -qx "pool=$1" "$d/info"; then
			basename "$d"
			return 0
		fi
	done
	return 1
}
wait_id() {	# POOL NAME: prints the id once the task is listed
	local id
	for _ in $(seq 200); do
		id=$(id_of "$1" "$2") && { echo "$id"; return 0; }
		sleep 0.05
	done
	return 1
}

# 1. Two pools, one connection.
printf 'SELECT pg_sleep(1);\n' >"$W/hold.sql"
printf 'SELECT 41 AS answer;\n' >"$W/after.sql"
submit second "$W/hold.sql" hold.sql || t_fail "cp hold.sql"
hold=$(wait_id second hold.sql) || t_bail "hold.sql was not listed"
wait_until 10 grep -qx 'running' "$MNT/tasks/$hold/state" ||
	t_fail "hold.sql is running"
submit first "$W/after.sql" after.sql || t_fail "cp after.sql"
after=$(wait_id first after.sql) || t_bail "after.sql was not listed"
sleep 0.3
t_is "$(cat "$MNT/tasks/$after/state")" "queued" \
	"a task of the first pool waits while the second holds the only connection"
t_is "$(task_wait "$hold" 20)" "done" "the holder finishes"
t_is "$(task_wait "$after" 20)" "done" \
	"the first pool's task starts once the connection is free (no task of its own ended)"
t_is "$(cat "$MNT/tasks/$after/result")" "$(printf 'answer\n41')" "and runs"
fin=$(iso_ms "$(MNT=$A info_of "$hold" finished_at)")
st=$(iso_ms "$(MNT=$A info_of "$after" started_at)")
t_ok "it started after the holder finished ($st >= $fin)" test "$st" -ge "$fin"

# 2. A pool of 2 with 10 queued: every slot handed on.
for k in $(seq 10); do
	printf 'INSERT INTO runs (k) VALUES (%d);\nSELECT pg_sleep(0.2);\n' "$k" >"$W/p$k.sql"
	submit pair "$W/p$k.sql" "p$k.sql" || t_fail "cp p$k.sql"
done
pair_done() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task
		WHERE pool = 'pair' AND state = 'done'")" = 10 ]
}
t_ok "all 10 tasks of pool pair are done" wait_until 30 pair_done
t_is "$(psql_ref -d app -tAc "SELECT count(*), count(DISTINCT k) FROM runs WHERE k <= 10")" "10|10" \
	"each ran exactly once"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task a JOIN pgqfs.task b
	ON a.pool = b.pool AND a.id < b.id AND a.started_at < b.finished_at AND b.started_at < a.finished_at
	JOIN pgqfs.task c ON c.pool = a.pool AND b.id < c.id
	AND c.started_at < least(a.finished_at, b.finished_at)
	AND greatest(a.started_at, b.started_at) < c.finished_at
	WHERE a.pool = 'pair'")" 0 \
	"never three at once in a pool of 2 (recorded start and finish times)"

# 3. Priorities across queued and released files.
printf 'SELECT pg_sleep(1);\n' >"$W/block.sql"
submit solo "$W/block.sql" block.sql || t_fail "cp block.sql"
block=$(wait_id solo block.sql) || t_bail "block.sql was not listed"
wait_until 10 grep -qx 'running' "$MNT/tasks/$block/state" || t_fail "block.sql is running"
for k in 1 2 3; do
	printf -- '-- pgqfs: priority=9\nINSERT INTO runs (k) VALUES (%d);\n' "$((100 + k))" >"$W/low$k.sql"
	submit solo "$W/low$k.sql" "low$k.sql" || t_fail "cp low$k.sql"
done
printf -- '-- pgqfs: priority=1\nINSERT INTO runs (k) VALUES (200);\n' >"$W/high.sql"
submit solo "$W/high.sql" high.sql || t_fail "cp high.sql"
high=$(wait_id solo high.sql) || t_bail "high.sql was not listed"
t_is "$(task_wait "$high" 20)" "done" "the high-priority file ran"
solo_done() {
	[ "$(psql_ref -d app -tAc "SELECT count(*) FROM runs WHERE k >= 101")" = 4 ]
}
t_ok "the three low-priority files ran" wait_until 20 solo_done
t_is "$(psql_ref -d app -tAc "SELECT string_agg(k::text, ' ' ORDER BY at) FROM runs WHERE k >= 101")" \
	"200 101 102 103" "priority 1 before the earlier priority 9 files, those in order"

# 4. After the queue ran empty: new work from here and from daemon b.
sleep 0.5
printf 'SELECT 1 AS here;\n' >"$W/here.sql"
submit pair "$W/here.sql" here.sql || t_fail "cp here.sql"
here=$(wait_id pair here.sql) || t_fail "here.sql was not listed"
t_is "$(task_wait "$here" 20)" "done" "a file released on an idle pool starts"
pgqfs_start b || t_bail "daemon b did not start"
B=$(mnt b)
printf 'SELECT 2 AS there;\n' >"$W/there.sql"
cp "$W/there.sql" "$B/queue/pair/there.sql" || t_fail "cp there.sql through b"
# Daemon b may run it itself; either way it must finish.
there=$(wait_id pair there.sql) || t_fail "there.sql was not listed"
t_is "$(task_wait "$there" 20)" "done" "a task queued through the other daemon starts"

# 5. Claims race cancels: two daemons take tasks of one pool (its limit of
# 2 across both) while every third task is cancelled as soon as it is
# listed.  Claims choose without row locks (the pool's advisory lock
# orders them), so a cancel between a claim's choice and its update must
# win: a task cancelled before it started never runs, none runs twice.
# The first half is submitted while two gate tasks hold both slots (they
# wait for an advisory lock this test holds), so its cancels surely land
# before any start; the gate opens at the half, and the rest race.
session_open gate app || t_bail "no psql session"
session_send gate "SELECT pg_advisory_lock(4343);"
t_ok "the test holds the gate's lock" wait_until 10 advisory_held 4343
printf 'SELECT pg_advisory_lock(4343);\nSELECT pg_advisory_unlock(4343);\n' >"$W/gate.sql"
submit pair "$W/gate.sql" g1.sql || t_fail "cp g1.sql"
cp "$W/gate.sql" "$B/queue/pair/g2.sql" || t_fail "cp g2.sql through b"
gates_running() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task
		WHERE pool = 'pair' AND name IN ('g1.sql', 'g2.sql') AND state = 'running'")" = 2 ]
}
t_ok "both gate tasks hold the pool's two slots" wait_until 20 gates_running
for k in $(seq 301 340); do
	if [ "$k" = 321 ]; then
		session_send gate "SELECT pg_advisory_unlock(4343);"
		session_close gate
	fi
	printf 'INSERT INTO runs (k) VALUES (%d);\nSELECT pg_sleep(0.15);\n' "$k" >"$W/r$k.sql"
	if [ $((k % 2)) -eq 0 ]; then m=$A; else m=$B; fi
	cp "$W/r$k.sql" "$m/queue/pair/r$k.sql" || t_fail "cp r$k.sql"
	if [ $((k % 3)) -eq 0 ]; then
		id=$(MNT=$m wait_id pair "r$k.sql") && echo 1 >"$m/tasks/$id/cancel" 2>/dev/null
	fi
done
race_over() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task
		WHERE pool = 'pair' AND name LIKE 'r3%' AND state IN ('done', 'failed', 'cancelled')")" = 40 ]
}
t_ok "all 40 racing tasks ended" wait_until 60 race_over
psql_ref -d pgqfs_ctl -tAc "SELECT substring(name FROM 'r([0-9]+)'), state, started_at IS NOT NULL
	FROM pgqfs.task WHERE pool = 'pair' AND name LIKE 'r3%'" >"$W/race.states"
psql_ref -d app -tAc "SELECT k, count(*) FROM runs WHERE k BETWEEN 301 AND 340 GROUP BY k" >"$W/race.runs"
t_is "$(awk -F'|' '$2 > 1' "$W/race.runs")" "" "no racing task ran twice"
t_is "$(awk -F'|' 'NR == FNR { ran[$1] = 1; next } $2 == "cancelled" && $3 == "f" && ran[$1]' \
	"$W/race.runs" "$W/race.states")" "" "no task cancelled before its start ran"
t_is "$(awk -F'|' 'NR == FNR { ran[$1] = 1; next } $2 == "done" && !ran[$1]' \
	"$W/race.runs" "$W/race.states")" "" "every done task ran"
t_is "$(awk -F'|' '$1 <= 320 && $1 % 3 == 0 && !($2 == "cancelled" && $3 == "f") { print $1 }' \
	"$W/race.states" | sort -n | xargs)" "" \
	"every task cancelled while the gate held the slots was cancelled before it started"

t_done
