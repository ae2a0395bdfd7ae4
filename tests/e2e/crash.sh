#!/usr/bin/env bash
# kill -9 of the daemon with tasks queued and running: after a restart
# nothing is lost, nothing stays running, nothing runs twice.
. "$SRCDIR/e2e/lib.sh"

N=${CRASH_TASKS:-120}
pg_start
psql_ref -d app -q -c "CREATE TABLE runs (k int, at timestamptz DEFAULT clock_timestamp())" \
	-c "CREATE TABLE gate ()"
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# The gate: a session of ours holds a lock that every task waits for after
# recording that it ran, so tasks are surely running when the daemon is
# killed, however slowly this machine submits them.
coproc GATE { psql_ref -d app -qtA 2>&1; }
echo "BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"${GATE[1]}"
read -r -t 30 gate_line <&"${GATE[0]}"
[ "$gate_line" = locked ] || t_bail "cannot lock the gate: $gate_line"

# Each task records that it ran, waits at the gate, then takes a while.
ids=()
for k in $(seq "$N"); do
	printf 'INSERT INTO runs (k) VALUES (%d);\nSELECT count(*) FROM gate;\nSELECT pg_sleep(0.05);\nSELECT %d AS k;\n' "$k" "$k" \
		>"$W/t$k.sql"
	id=$(new_id)
	ids+=("$id")
	echo "$k $id" >>"$W/ids"
	submit default "$W/t$k.sql" "$id.sql" || t_fail "cp of task $k"
done
t_pass "$N tasks submitted"
# The default pool runs 4 at a time: all 4 wait at the gate.
wait_until 20 bash -c "[ \$(ls $MNT/running | wc -l) -ge 4 ]"
running_before=$(ls "$MNT/running" | wc -l)
t_ok "tasks are running when the daemon is killed ($running_before)" test "$running_before" -gt 0
# A file still open for writing whose content a flush made durable: a
# writer that closed a duplicate of its descriptor (a flush) and keeps the
# file open.  (Its own process: every child of this shell would inherit
# the descriptor, and a child's exit would flush to the frozen daemon.)
perl -e 'open(my $f, ">", $ARGV[0]) or die "open: $!";
	print $f "SELECT '"'"'written before the crash'"'"' AS msg;\n";
	open(my $d, ">&", $f) or die "dup: $!"; close($d) or die "flush: $!";
	print "flushed\n"; $| = 1; sleep 600;' "$MNT/queue/default/halfway.sql" >"$W/halfway.out" &
halfway_pid=$!
wait_until 10 grep -q flushed "$W/halfway.out"

# Freeze the daemon, let what it already sent settle, and count the tasks
# the control database holds as running: exactly those may end failed.
kill -STOP "${PGQFS_PID[main]}"
sleep 0.3
claimed=$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE state = 'running'")
pgqfs_kill9 main
t_pass "daemon killed with SIGKILL ($claimed tasks claimed)"
# Open the gate: the cut-off tasks' backends finish with no client.
echo "COMMIT;" >&"${GATE[1]}"
exec {GATE[1]}>&-

kill "$halfway_pid" 2>/dev/null
wait "$halfway_pid" 2>/dev/null
pgqfs_start main || t_bail "daemon did not restart"
halfway_done() { grep -lx 'name=halfway.sql' "$MNT"/done/*/info >/dev/null 2>&1; }
t_ok "a file whose content was flushed before the crash runs after the restart" \
	wait_until 60 halfway_done

all_final() {
	local q r
	q=$(awk '$1 == "queued" { print $2 }' "$MNT/stats")
	r=$(awk '$1 == "running" { print $2 }' "$MNT/stats")
	[ "$q" = 0 ] && [ "$r" = 0 ]
}
t_ok "after the restart every task reaches a final state" wait_until 60 all_final

done_n=0 failed_n=0 lost=0 bad=0
while read -r k id; do
	state=$(cat "$MNT/tasks/$id/state" 2>/dev/null)
	case "$state" in
	done)
		done_n=$((done_n + 1))
		[ "$(tail -n 1 "$MNT/done/$id/result")" = "$k" ] || bad=$((bad + 1))
		;;
	failed)
		failed_n=$((failed_n + 1))
		grep -q 'outcome is unknown' "$MNT/failed/$id/error" || {
			bad=$((bad + 1))
			t_diag "task $id failed for another reason: $(cat "$MNT/failed/$id/error")"
		}
		;;
	*)
		lost=$((lost + 1))
		t_diag "task $id (k=$k) is '$state'"
		;;
	esac
done <"$W/ids"
t_is "$lost" 0 "no task was lost or stuck"
t_is "$bad" 0 "done tasks have their result, failed ones say the outcome is unknown"
t_is "$((done_n + failed_n))" "$N" "all $N tasks accounted for ($done_n done, $failed_n failed)"
t_ok "the tasks cut off by the kill are failed, not re-run ($failed_n)" \
	test "$failed_n" -ge 1 -a "$failed_n" -le "$claimed"
t_stats_match "stats counts what the control database holds after the recovery"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.tally y WHERE y.instance <> 0
	AND NOT EXISTS (SELECT 1 FROM pgqfs.instance i WHERE i.id = y.instance)")" 0 \
	"the dead daemon's tally rows are folded into the shared ones"
twice=$(psql_ref -d app -tAc "SELECT count(*) FROM (SELECT k FROM runs GROUP BY k HAVING count(*) > 1) d")
t_is "$twice" 0 "no task ran twice"
ran=$(psql_ref -d app -tAc "SELECT count(DISTINCT k) FROM runs")
# A cut-off task may have been claimed but not yet have sent its INSERT.
t_ok "every done task ran; no more than $N ran ($ran)" test "$ran" -ge "$done_n" -a "$ran" -le "$N"
t_ok "the log of a cut-off task says why" bash -c \
	"grep -l 'outcome unknown' $MNT/failed/*/log | grep -q ."
t_ok "no pgqfs backend is left running a task" bash -c \
	"[ \$(/usr/lib/postgresql/15/bin/psql -X -h '$PGHOST' -p '$PGPORT' -U postgres -d app -tAc \"SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND state = 'active'\") = 0 ]"

t_done
