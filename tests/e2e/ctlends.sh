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

psql_ref -q -c 'CREATE DATABASE ref' >/dev/null || t_bail "cannot create the reference database"
for db in app ref; do
	psql_ref -d "$db" -q -c 'CREATE TABLE ran (tag text)' >/dev/null ||
		t_bail "cannot create table ran in $db"
done
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
	session_open "lock$tag" pgqfs_ctl
	session_send "lock$tag" "BEGIN; LOCK TABLE pgqfs.tally IN EXCLUSIVE MODE; SELECT 'locked';"
	locked() { grep -q locked "$E2E_TMP/lock$tag.out"; }
	t_ok "$tag: a session holds the tally table" wait_until 10 locked
	ended() {
		[ "$(psql_ref -d app -tAc "SELECT count(*) FROM ran WHERE tag = '$tag'")" = 1 ] &&
			[ "$(psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity
				WHERE application_name = 'pgqfs task $id'")" = 0 ]
	}
	t_ok "$tag: the task ends on its target" wait_until 10 ended
	stuck() {
		[ "$(ctl "SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'pgqfs executor' AND wait_event_type = 'Lock'")" = 1 ]
	}
	t_ok "$tag: a progress batch waits on the lock" wait_until 10 stuck
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
pgqfs_stop
t_done
