#!/usr/bin/env bash
# PostgreSQL restarted, fast and then immediate, with 200 tasks queued and
# 20 running: nothing is lost (every task reaches a final state), nothing
# stays stuck, and nothing runs twice (each task's INSERT happens at most
# once; a task cut off by the restart fails, it is not run again).  Right
# after each restart a new submission runs: no stale connection fails it.
. "$SRCDIR/e2e/lib.sh"

N=${PGRESTART_TASKS:-220}
pgqfs_config() {
	cat <<EOF
[pgqfs]
control = $PGQFS_CONTROL
schema = pgqfs
workers = 0
request_timeout = 5s

[target main]
conninfo = $PGQFS_TARGET
max_workers = 20

[pool default]
target = main
max_workers = 20
EOF
}

pg_start
psql_ref -d app -q -c "CREATE TABLE runs (round int, k int)" -c "CREATE TABLE gate ()"
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

running() { awk '$1 == "running" { print $2 }' "$MNT/stats" 2>/dev/null; }
queued() { awk '$1 == "queued" { print $2 }' "$MNT/stats" 2>/dev/null; }
all_final() { [ "$(queued)" = 0 ] && [ "$(running)" = 0 ]; }

for mode in fast immediate; do
	round=$([ "$mode" = fast ] && echo 1 || echo 2)
	: >"$W/ids.$mode"
	# The gate, a lock a session of ours holds, keeps the first 20 tasks
	# running (after their INSERT) while the rest are submitted; the
	# restart ends that session too.
	coproc GATE { psql_ref -d app -qtA 2>&1; }
	echo "BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"${GATE[1]}"
	read -r -t 30 gate_line <&"${GATE[0]}"
	[ "$gate_line" = locked ] || t_bail "$mode: cannot lock the gate: $gate_line"
	for k in $(seq "$N"); do
		printf 'INSERT INTO runs VALUES (%d, %d);\nSELECT count(*) FROM gate;\nSELECT %d AS k;\n' \
			"$round" "$k" "$k" >"$W/t.sql"
		id=$(new_id)
		cp "$W/t.sql" "$MNT/queue/default/$id.sql" || t_fail "$mode: cp of task $k"
		echo "$k $id" >>"$W/ids.$mode"
	done
	busy() { [ "$(running)" = 20 ] && [ "$(queued)" -ge 150 ]; }
	t_ok "$mode: 20 tasks run and at least 150 wait ($(running) running, $(queued) queued)" \
		wait_until 20 busy
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-m "$mode" -w -t 60 -s restart >/dev/null
	t_pass "$mode: the cluster restarted"
	exec {GATE[1]}>&- 2>/dev/null
	wait "$GATE_PID" 2>/dev/null
	t_ok "$mode: every task reaches a final state" wait_until 120 all_final
	echo "SELECT 'after the restart' AS msg;" >"$W/after.sql"
	after=$(new_id)
	cp "$W/after.sql" "$MNT/queue/default/$after.sql" || t_fail "$mode: cp after the restart"
	t_is "$(task_wait "$after" 30)" done "$mode: a task submitted after the restart runs"

	lost=0 bad=0 done_n=0 failed_n=0
	while read -r k id; do
		state=$(cat "$MNT/tasks/$id/state" 2>/dev/null)
		case "$state" in
		done)
			done_n=$((done_n + 1))
			[ "$(tail -n 1 "$MNT/tasks/$id/result")" = "$k" ] || bad=$((bad + 1))
			;;
		failed)
			failed_n=$((failed_n + 1))
			# Cut off by the restart: running then, or started as
			# the server went down.
			grep -Eq 'outcome is unknown|lost the connection|terminating connection|could not connect|shutting down|starting up' \
				"$MNT/tasks/$id/error" || {
				bad=$((bad + 1))
				t_diag "$mode: task $id failed: $(head -c 300 "$MNT/tasks/$id/error")"
			}
			[ -s "$MNT/tasks/$id/error" ] || bad=$((bad + 1))
			;;
		*)
			lost=$((lost + 1))
			t_diag "$mode: task $id (k=$k) is '$state'"
			;;
		esac
	done <"$W/ids.$mode"
	t_is "$lost" 0 "$mode: no task lost or stuck"
	t_is "$bad" 0 "$mode: done tasks have their result, failed ones say why"
	# The 20 running fail, but for one that got past the gate when the
	# gate's session was ended first; a task claimed in the instant the
	# server went down may fail with them (it is not run again: see below).
	t_ok "$mode: the tasks cut off failed, the rest ran ($failed_n failed, $done_n done)" \
		test "$failed_n" -ge 10 -a "$failed_n" -le 30 -a "$((done_n + failed_n))" -eq "$N"
	twice=$(psql_ref -d app -tAc "SELECT count(*) FROM (SELECT k FROM runs WHERE round = $round
		GROUP BY k HAVING count(*) > 1) d")
	t_is "$twice" 0 "$mode: no task ran twice"
	ran=$(psql_ref -d app -tAc "SELECT count(DISTINCT k) FROM runs WHERE round = $round")
	t_ok "$mode: every done task ran ($ran ran, $done_n done)" \
		test "$ran" -ge "$done_n" -a "$ran" -le "$N"
done
t_stats_match "stats counts what the control database holds after both restarts"
t_done
