#!/usr/bin/env bash
# Two paths of the control schema that locked rows in an order that could
# meet progress() the other way round (schema version 16, after review),
# forced into a deadlock at the SQL level.  The rows are crafted in a copy
# of the real schema, lockrows, that a daemon of the test's own (schema =
# lockrows) creates and that no daemon runs on once it stopped: a running
# daemon's recovery would act on the fake instances.  Every session of the
# test sets search_path = lockrows (the functions key their advisory locks
# on current_schema()).
#
# 1. recover_again(1, 1): instance 1 takes back its own running member (of
#    group 20) and, in recover(), a dead instance 3's running member (of
#    group 10), against a progress() batch of an alive instance 2 (a session
#    of the test holds its instance lock) that ends a member of each group.
#    A session holds the tally row (1, p, failed), so that recover_again()
#    waits there, after its own member's group; the batch then takes group
#    10 and waits for group 20.  recover_locks() takes both groups first,
#    in id order: the batch waits for group 10 (before version 16's fix,
#    recover() locked group 10 after the tally row, waiting on the batch).
# 2. retry_task() of failed task 40 whose after= is {25, 30}, 30 a running
#    group, against the progress() batch that ends 30's last member,
#    failed.  A session holds task 25, so that the retry waits there; the
#    group's end then goes on.  retry_task() reads its after= tasks first,
#    holding nothing while it waits (before the fix it held task 40 and the
#    tally row (0, p, failed), which the group's failed end upserts, and
#    then read group 30 FOR SHARE, held by the batch).
#
# deadlock_timeout is 3 s on the control database, so that where a cycle
# forms it forms well before the server checks; the server's log must show
# no deadlock, and both calls must succeed.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed 's/^schema = pgqfs$/schema = lockrows/'
}
ctl() { psql_ref -d pgqfs_ctl -tAqc "SET search_path = lockrows; $1"; }

pg_start
psql_ref -q -c "ALTER DATABASE pgqfs_ctl SET deadlock_timeout = '3s'" ||
	t_bail "cannot set deadlock_timeout"
pgqfs_start lockrows || t_bail "daemon lockrows did not start"
t_is "$(ctl "SELECT version FROM meta")" \
	"$(awk '/schema_versions\[\] = \{/ { on = 1; next } on && /^\};/ { exit }
		on && /^\tschema_v/ { n++ } END { print n }' "$SRCDIR/../src/schema.sql.h")" \
	"the daemon created schema lockrows, at the current version"
pgqfs_stop lockrows
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
	WHERE application_name LIKE 'pgqfs%'")" 0 "no daemon session is left"

# deadlocks: how many the server has broken so far.
deadlocks() { grep -c 'deadlock detected' "$PG_DIR/postgres.log"; }
# waits WAITER BLOCKER: a session named WAITER waits for a lock that a
# session named BLOCKER holds.
waits() {
	[ "$(ctl "SELECT count(DISTINCT w.pid) FROM pg_stat_activity w
		JOIN pg_stat_activity h ON h.pid = ANY (pg_blocking_pids(w.pid))
		WHERE w.application_name = '$1' AND w.wait_event_type = 'Lock'
		AND h.application_name = '$2'")" = 1 ]
}
# waits_only WAITER BLOCKER: as waits, and no other session blocks WAITER.
waits_only() {
	[ "$(ctl "SELECT string_agg(DISTINCT h.application_name, ',')
		FROM pg_stat_activity w
		JOIN pg_stat_activity h ON h.pid = ANY (pg_blocking_pids(w.pid))
		WHERE w.application_name = '$1' AND w.wait_event_type = 'Lock'")" = "$2" ]
}
# call NAME SQL: runs SQL in schema lockrows in the background, in a session
# named "lockrows NAME"; its output goes to $E2E_TMP/NAME.out, its exit
# status to NAME.rc.
call() {
	rm -f -- "$E2E_TMP/$1.rc"
	(
		for v in ${!_SESSION_FD_@}; do eval "exec ${!v}>&-" 2>/dev/null; done
		PGAPPNAME="lockrows $1" psql_ref -d pgqfs_ctl -qAtX -v ON_ERROR_STOP=1 \
			-c 'SET search_path = lockrows' -c "$2" >"$E2E_TMP/$1.out" 2>&1
		echo $? >"$E2E_TMP/$1.rc"
	) &
}
# ended NAME: call NAME ended.
ended() { [ -s "$E2E_TMP/$1.rc" ]; }
# call_ok CASE NAME WHAT: test points: call NAME ends within 20 s, with
# status 0 and no ERROR in its output ($E2E_TMP/NAME.out).
call_ok() {
	if ! wait_until 20 ended "$2"; then
		t_fail "$1: $3 ends"
		return 1
	fi
	t_is "$(cat "$E2E_TMP/$2.rc")" 0 "$1: $3 succeeds" ||
		t_diag_file "$E2E_TMP/$2.out"
	if grep -q ERROR "$E2E_TMP/$2.out"; then
		t_fail "$1: $3 reports no error"
		t_diag_file "$E2E_TMP/$2.out"
	else
		t_pass "$1: $3 reports no error"
	fi
}
# hold NAME SQL: session NAME ("lockrows NAME") runs SQL in an open
# transaction and holds what it took until release NAME.
hold() {
	session_open "$1" pgqfs_ctl
	session_send "$1" "SET search_path = lockrows; SET application_name = 'lockrows $1';
		BEGIN; $2; SELECT 'held';"
	wait_until 10 grep -qx held "$E2E_TMP/$1.out" ||
		t_bail "session $1 holds nothing: $(cat "$E2E_TMP/$1.out")"
}
release() {
	session_send "$1" "COMMIT;"
	session_close "$1"
}
# progress1_sql / progress2_sql: progress() batches of instance 2 (the
# arrays as the executor sends them, one element a member): members 12 and
# 22 end done (case 1); member 31 ends failed (case 2).
now_us='(extract(epoch FROM now()) * 1e6)::bigint'
progress1_sql="SELECT progress(2, true, ARRAY[12,22]::bigint[], ARRAY[0,0]::bigint[],
	ARRAY[5,5]::bigint[], ARRAY[NULL,NULL]::int[], ARRAY[NULL,NULL]::text[],
	ARRAY[NULL,NULL]::bigint[], ARRAY['done','done']::text[], ARRAY[$now_us,$now_us],
	ARRAY[0,0]::bigint[], ARRAY[NULL,NULL]::bytea[], ARRAY[false,false],
	ARRAY[NULL,NULL]::bigint[], ARRAY[NULL,NULL]::int[], ARRAY[NULL,NULL]::int[],
	ARRAY[NULL,NULL]::bigint[], ARRAY[0,0]::bigint[], '{}'::bigint[], '{}'::smallint[],
	'{}'::bigint[], '{}'::bytea[], ARRAY[NULL,NULL]::bigint[])"
progress2_sql="SELECT progress(2, true, ARRAY[31]::bigint[], ARRAY[0]::bigint[],
	ARRAY[5]::bigint[], ARRAY[NULL]::int[], ARRAY[NULL]::text[], ARRAY[NULL]::bigint[],
	ARRAY['failed']::text[], ARRAY[$now_us], ARRAY[NULL]::bigint[], ARRAY['x'::bytea],
	ARRAY[false], ARRAY[NULL]::bigint[], ARRAY[NULL]::int[], ARRAY[NULL]::int[],
	ARRAY[NULL]::bigint[], ARRAY[0]::bigint[], '{}'::bigint[], '{}'::smallint[],
	'{}'::bigint[], '{}'::bytea[], ARRAY[NULL]::bigint[])"
# clean: no task, instance or tally row left in lockrows.
clean() {
	ctl "DELETE FROM chunk; DELETE FROM task; DELETE FROM tally; DELETE FROM instance" ||
		t_bail "cannot empty schema lockrows"
}

# ---------------------------------------------------------------- 1
dl=$(deadlocks)
clean
psql_ref -d pgqfs_ctl -q -v ON_ERROR_STOP=1 <<'SQL' || t_bail "1: cannot craft the rows"
SET search_path = lockrows;
INSERT INTO instance (id, host, pid, token, gone_since) VALUES
 (1, 'a', 1, NULL, NULL), (2, 'e', 2, NULL, NULL),
 (3, 'c', 3, NULL, now() - interval '1 hour');
INSERT INTO task (id, pool, name, state, query, uid, gid, instance, started_at,
                  is_group, n_members, group_id) VALUES
 (10, 'p', 'gx', 'running', '', 0, 0, NULL, now(), true, 2, NULL),
 (11, 'p', 'gx:1', 'running', '', 0, 0, 3, now(), false, NULL, 10),
 (12, 'p', 'gx:2', 'running', '', 0, 0, 2, now(), false, NULL, 10),
 (20, 'p', 'ga', 'running', '', 0, 0, NULL, now(), true, 2, NULL),
 (21, 'p', 'ga:1', 'running', '', 0, 0, 1, now(), false, NULL, 20),
 (22, 'p', 'ga:2', 'running', '', 0, 0, 2, now(), false, NULL, 20);
INSERT INTO tally VALUES (1, 'p', 'failed', 0);
SQL
# Instance 2 is alive: a session holds its instance lock.
session_open alive pgqfs_ctl
session_send alive "SELECT 'alive' FROM pg_advisory_lock(hashtext('lockrows'), 2);"
wait_until 10 grep -qx alive "$E2E_TMP/alive.out" ||
	t_bail "1: instance 2's lock was not taken: $(cat "$E2E_TMP/alive.out")"
hold tally1 "SELECT 1 FROM tally WHERE instance = 1 AND pool = 'p' AND state = 'failed' FOR UPDATE"
call recover1 "SELECT failed || ' ' || requeued || ' ' || alive || ' ' || own_failed
	FROM recover_again(1, 1)"
t_ok "1: recover_again(1, 1) waits for the tally row (1, p, failed)" \
	wait_until 10 waits "lockrows recover1" "lockrows tally1"
call progress1 "$progress1_sql"
t_ok "1: the batch ending members 12 and 22 waits for recover_again()" \
	wait_until 10 waits "lockrows progress1" "lockrows recover1"
t_ok "1: recover_again() waits for the tally row alone, not for the batch" \
	waits_only "lockrows recover1" "lockrows tally1"
release tally1
call_ok 1 recover1 "recover_again(1, 1)"
t_is "$(cat "$E2E_TMP/recover1.out")" "1 0 1 1" \
	"1: it failed its own member and the dead instance's, and found instance 2 alive"
call_ok 1 progress1 "the batch of instance 2"
t_is "$(ctl "SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM task")" \
	"10:failed 11:failed 12:done 20:failed 21:failed 22:done" \
	"1: the recovered members failed, the batch's are done, both groups failed"
t_is "$(ctl "SELECT string_agg(id || ':' || n_ended || '/' || n_bad, ' ' ORDER BY id)
	FROM task WHERE is_group")" "10:2/1 20:2/1" "1: each group counted both ends, one bad"
t_is "$(ctl "SELECT count(*) FROM instance WHERE id = 3")" 0 "1: the dead instance is gone"
t_is "$(($(deadlocks) - dl))" 0 "1: the server saw no deadlock"
session_close alive

# ---------------------------------------------------------------- 2
dl=$(deadlocks)
clean
psql_ref -d pgqfs_ctl -q -v ON_ERROR_STOP=1 <<'SQL' || t_bail "2: cannot craft the rows"
SET search_path = lockrows;
INSERT INTO instance (id, host, pid) VALUES (2, 'e', 2);
INSERT INTO task (id, pool, name, state, query, uid, gid, instance, started_at,
                  is_group, n_members, group_id, after) VALUES
 (25, 'p', 'b', 'done', '', 0, 0, NULL, now(), false, NULL, NULL, NULL),
 (30, 'p', 'a', 'running', '', 0, 0, NULL, now(), true, 1, NULL, NULL),
 (31, 'p', 'a:1', 'running', '', 0, 0, 2, now(), false, NULL, 30, NULL),
 (40, 'p', 'x', 'failed', '', 0, 0, NULL, now(), false, NULL, NULL, '{25,30}');
INSERT INTO tally VALUES (0, 'p', 'failed', 1);
SQL
hold row2 "SELECT 1 FROM task WHERE id = 25 FOR UPDATE"
call retry2 "SELECT retry_task(40, 0)"
t_ok "2: retry_task(40) waits for task 25's row" \
	wait_until 10 waits "lockrows retry2" "lockrows row2"
call progress2 "$progress2_sql"
# Before the fix the batch waits for the retry; since, it ends.
progress2_on() { ended progress2 || waits "lockrows progress2" "lockrows retry2"; }
t_ok "2: the batch ending member 31 got past group 30 while the retry waits" \
	wait_until 10 progress2_on
t_ok "2: the retry still waits for task 25's row alone" \
	waits_only "lockrows retry2" "lockrows row2"
release row2
call_ok 2 retry2 "retry_task(40, 0)"
t_is "$(cat "$E2E_TMP/retry2.out")" 0 "2: retry_task() returns 0"
call_ok 2 progress2 "the batch of instance 2"
t_is "$(cat "$E2E_TMP/progress2.out")" "31:failed" "2: the batch recorded 31's end, failed"
t_is "$(ctl "SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM task")" \
	"25:done 30:failed 31:failed 40:failed" \
	"2: the member and its group failed; task 40, retried, failed again (it waits for a failed group)"
t_like "$(ctl "SELECT convert_from(error, 'UTF8') FROM task WHERE id = 40")" \
	'not run: task 30, which this task waits for \(after=30\), ended failed' \
	"2: task 40 was not run: group 30 failed"
t_is "$(($(deadlocks) - dl))" 0 "2: the server saw no deadlock"

t_done
