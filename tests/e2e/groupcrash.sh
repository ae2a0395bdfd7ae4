#!/usr/bin/env bash
# kill -9 of the daemon while a group runs: its members are tasks of their
# own, queued with the group at its release, so at the kill most members
# wait queued and a few run.  A second daemon sharing the queue takes the
# waiting ones while the first is gone, and after the first restarts
# nothing is lost, nothing stays running, nothing runs twice: each member
# ran at most once, the ones cut off by the kill are failed (outcome
# unknown), and every other member ran once.
. "$SRCDIR/e2e/lib.sh"

N=60
pg_start
psql_ref -d app -q -c "CREATE TABLE runs (k int, at timestamptz DEFAULT clock_timestamp())" \
	-c "CREATE TABLE gate ()" \
	-c "CREATE FUNCTION at_gate(p_k int) RETURNS int LANGUAGE sql AS \$\$
		INSERT INTO runs (k) VALUES (p_k);
		SELECT count(*)::int FROM gate;
		SELECT pg_sleep(0.02);
		SELECT p_k \$\$"
pgqfs_start main || t_bail "daemon main did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# The gate: a session of ours holds a lock that every member waits for
# after recording that it ran, so members are surely running at the kill.
session_open gate app
session_send gate "BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
gate_locked() { grep -q locked "$E2E_TMP/gate.out"; }
wait_until 30 gate_locked || t_bail "cannot lock the gate: $(cat "$E2E_TMP/gate.out")"

{
	echo '-- pgqfs: group=statements'
	for k in $(seq "$N"); do echo "SELECT at_gate($k) AS k;"; done
} >"$W/group.sql"
gid=$(new_id)
submit default "$W/group.sql" "$gid.sql" || t_bail "cp of the group"
members_in() {
	psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE group_id = $gid AND state = '$1'"
}
four_running() { [ "$(members_in running)" -ge 4 ]; }
t_ok "the default pool runs 4 members, all at the gate" wait_until 20 four_running
t_is "$(members_in queued)" "$((N - 4))" "the members not started wait queued"
t_is "$(cat "$MNT/tasks/$gid/state")" running "the group runs"
wait_member=$(tail -n 1 "$MNT/tasks/$gid/result" | cut -d, -f1)
t_is "$(cat "$MNT/tasks/$wait_member/state")" queued "a waiting member's state says queued"

kill -STOP "${PGQFS_PID[main]}"
sleep 0.3
claimed=$(members_in running)
pgqfs_kill9 main
t_pass "daemon main killed with SIGKILL ($claimed members claimed)"
session_send gate "COMMIT;"
session_close gate

# Another daemon sharing the queue takes the waiting members of the dead
# daemon's group once the members cut off are failed (they held the
# pool's slots).
pgqfs_start b || t_bail "daemon b did not start"
B=$(mnt b)
some_ran_on_b() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task t JOIN pgqfs.instance i
		ON i.id = t.instance WHERE t.group_id = $gid AND t.state = 'done'
		AND i.pid = ${PGQFS_PID[b]}")" -gt 0 ]
}
t_ok "daemon b runs members of the dead daemon's group" wait_until 30 some_ran_on_b
pgqfs_start main || t_bail "daemon main did not restart"

st=$(timeout 60 cat "$B/tasks/$gid/wait")
t_is "$st" failed "the group ends, failed: the members cut off by the kill failed"
result=$(tail -n +2 "$B/tasks/$gid/result")
done_n=$(echo "$result" | grep -c ',done$')
failed_n=$(echo "$result" | grep -c ',failed$')
t_is "$((done_n + failed_n))" "$N" "every member ended ($done_n done, $failed_n failed)"
t_ok "the members cut off are failed, not re-run ($failed_n of $claimed)" \
	test "$failed_n" -ge 1 -a "$failed_n" -le "$claimed"
bad=0
while IFS=, read -r id state; do
	if [ "$state" = failed ]; then
		grep -q 'outcome is unknown' "$B/failed/$id/error" || bad=$((bad + 1))
	fi
done <<<"$result"
t_is "$bad" 0 "each failed member says its outcome is unknown"
twice=$(psql_ref -d app -tAc "SELECT count(*) FROM (SELECT k FROM runs GROUP BY k HAVING count(*) > 1) d")
t_is "$twice" 0 "no member ran twice"
ran=$(psql_ref -d app -tAc "SELECT count(DISTINCT k) FROM runs")
t_ok "every done member ran; no more than $N ran ($ran)" test "$ran" -ge "$done_n" -a "$ran" -le "$N"
first_done=$(echo "$result" | grep ',done$' | head -n 1 | cut -d, -f1)
k=$(grep '^name=' "$B/tasks/$first_done/info" | sed 's/.*://')
t_is "$(tail -n 1 "$B/done/$first_done/result")" "$k" "a done member's result is its statement's"
all_final() {
	[ "$(awk '$1 == "queued" || $1 == "running" { s += $2 } END { print s + 0 }' "$B/stats")" = 0 ]
}
t_ok "nothing is left queued or running" wait_until 30 all_final

t_done
