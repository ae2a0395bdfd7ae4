#!/usr/bin/env bash
# A task that ends while its end cannot be committed keeps its outcome
# when the executor's control connection is lost.  A session holds the
# tally table, so every progress batch waits on the server; the task ends
# meanwhile (its end waits in the daemon, or in the batch stuck on the
# lock), and then the executor's control connection is terminated: the
# transaction of the stuck batch rolls back.  The daemon takes its
# instance back and stores the ends it had before the recovery that
# fails what it was running: the task is done, with psql's result, having
# run once.  (Before, it was failed "outcome unknown", though it had
# ended.)  Last, the same with a lingering old session: a new instance is
# registered, and the ends still go to the old one's rows.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
LOG=${PGQFS_LOG[main]}
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }

ran_tables
task_sql() {
	printf "INSERT INTO ran VALUES ('%s');\nSELECT pg_sleep(1.2);\nSELECT 42 AS answer, '%s' AS tag;\n" \
		"$1" "$1"
}

# one TAG HOW: a task that ends while its batch waits on the tally lock,
# then HOW takes the control connection away and waits for the daemon
# to come back.
one() {
	local tag=$1 how=$2 id
	task_sql "$tag" >"$W/$tag.sql"
	psql_ref -d ref -X -q --csv -v ON_ERROR_STOP=1 -f "$W/$tag.sql" >"$W/$tag.ref"
	id=$(new_id)
	cp "$W/$tag.sql" "$MNT/queue/default/$id.sql" || t_fail "$tag: cp"
	running() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE id = $id")" = running ]; }
	t_ok "$tag: the task runs" wait_until 10 running
	tally_lock "lock$tag"
	t_ok "$tag: the task ends on its target" wait_until 10 ran_ended "$tag" "$id"
	t_ok "$tag: a progress batch waits on the lock" wait_until 10 executor_stuck
	t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $id")" running \
		"$tag: its end is not committed"
	"$how"
	session_close "lock$tag"
	t_is "$(task_wait "$id" 20)" done "$tag: the task is done, not failed"
	t_cmp "$W/$tag.ref" "$MNT/tasks/$id/result" "$tag: its result is psql's"
	t_ok "$tag: it has no error file" test ! -e "$MNT/done/$id/error"
	t_ok "$tag: its log says it finished done" grep -q 'finished: done' "$MNT/tasks/$id/log"
	t_is "$(ctl "SELECT state || ' ' || attempt FROM pgqfs.task WHERE id = $id")" "done 1" \
		"$tag: done in the control database, one attempt"
	t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM ran WHERE tag = '$tag'")" 1 \
		"$tag: it ran once"
}

same() {
	executor_terminate
	back() { grep -q 'reconnected to the control database as instance 1 again' "$LOG"; }
	t_ok "the daemon reconnects as the same instance" wait_until 15 back
}

# The old session lingers (executor_linger): the daemon registers a new
# instance; the task's row is still the old one's.
linger() { executor_linger "$LOG"; }

one a same
one b linger
t_ok "no task was failed with its outcome unknown" \
	bash -c "! grep -q 'marked failed (outcome unknown)' '$LOG'"

# ---- Two losses in a row, each old session lingering, before the first
# new connection's recovery (held up behind its kept batch) settled the
# first.  A file written meanwhile is staged under the second instance,
# and stays the writer's: its staged row moves to the third instance (the
# recoveries settle both lost ones), no recovery queues it when the
# lingering sessions end (the daemon's filesystem holds its token: they
# are lost, not dead), and the whole file runs once at its last close.
# (Before, only one lost instance was remembered: the second's staged row
# was queued, and its first part ran while the file was being written.)
inst() { ctl "SELECT instance FROM pgqfs.task WHERE name = '$1'"; }
open_writer_whole "$W/whole.sql"
psql_ref -d ref -X -q --csv -v ON_ERROR_STOP=1 -f "$W/whole.sql" >"$W/whole.ref"
task_sql c >"$W/c.sql"
psql_ref -d ref -X -q --csv -v ON_ERROR_STOP=1 -f "$W/c.sql" >"$W/c.ref"
first=$(ctl "SELECT max(id) FROM pgqfs.instance")
tally_lock lockc
cp "$W/c.sql" "$MNT/queue/default/c.sql" || t_fail "c: cp"
cid=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'c.sql'")
cended() { ran_ended c "$cid" && executor_stuck; }
t_ok "c: the task ends on its target, its batch waiting on the lock" wait_until 15 cended
executor_linger "$LOG" "$first" keep
open_writer "$MNT/queue/default/x.sql" "$W/go" "$W/x.out"
t_ok "x.sql: its first part is written and stored" wait_until 10 test -e "$W/x.out.ready"
second=$(inst x.sql)
t_ok "x.sql: staged under the second instance ($second)" test "$second" -gt "$first"
executor_linger "$LOG" "$second" keep
session_close lockc
third=$(ctl "SELECT max(id) FROM pgqfs.instance")
moved() { [ "$(inst x.sql)" = "$third" ]; }
t_ok "x.sql: its staged row moves to the third instance ($third)" wait_until 15 moved
session_close "hold$first"
session_close "hold$second"
t_is "$(recover_now)" 0 \
	"a recovery (ours, at once) queues nothing of theirs"
t_is "$(ctl "SELECT count(*) FROM pgqfs.instance WHERE id IN ($first, $second)")" 2 \
	"and leaves both lost instances registered: the daemon's filesystem holds its token"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'x.sql'")" staged \
	"x.sql: still staged, not queued by that recovery"
writer_finish x.sql "$W/go" "$W/x.out" "$W/whole.ref"
t_is "$(task_wait "$cid" 20)" done "c: the task that ended is done"
t_cmp "$W/c.ref" "$MNT/tasks/$cid/result" "c: with psql's result"
pgqfs_stop
t_done
