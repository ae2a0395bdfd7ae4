#!/usr/bin/env bash
# claim_one() (schema version 8), the claim of one released file, decides
# as claim() decides for the same arguments: claim() is the reference.
# Each case builds a pool's rows in a transaction, calls one of the two,
# prints what was claimed, the pool's row and every task's state, and
# rolls back; the two outputs must be equal, and equal to what the case
# expects, and claim_one() must have called claim() exactly when its own
# update could not decide.  The pool, "ghost", is in no daemon's
# configuration, so no daemon touches its rows.
# Then the daemon's own use: a file into an idle pool is claimed by
# claim_one() and runs, its result psql's; a task's session, named while
# that claim is in flight, runs its statement under its application_name;
# and with a second daemon filling the pool, the named session takes the
# name back while the file waits.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool solo]\ntarget = main\nmax_workers = 1\n'
}
pg_start
pgqfs_start || t_bail "daemon did not start"
ctl() { psql_ref -d pgqfs_ctl -tAX -v ON_ERROR_STOP=1 "$@"; }

US=1700000000123456	# the release's commit time, as the daemon passes it

# run_case FN SETUP LOCAL: SETUP's rows, then FN releasing task 'x' into
# pool ghost (limit 2, want 1, LOCAL of this daemon's running there).
run_case() {
	local fn=$1 setup=$2 local=${3:-0} call
	if [ "$fn" = claim ]; then
		call="claim(900001, ARRAY[(SELECT id FROM task WHERE name = 'x')], ARRAY[$US::bigint],
			'{ghost}', '{2}', '{1}', ARRAY[$local])"
	else
		call="claim_one(900001, (SELECT id FROM task WHERE name = 'x'), $US, 'ghost', 2, 1, $local)"
	fi
	ctl -q <<-SQL
	BEGIN;
	SET LOCAL search_path = pgqfs;
	SET LOCAL track_functions = 'pl';
	INSERT INTO instance (id, host, pid) VALUES (900001, 'claimone', 1), (900002, 'other', 2);
	$setup
	SELECT CASE WHEN c.id IS NULL
	         THEN 'pool ' || c.pool || ' ' || c.pool_max || ' ' || c.pool_paused || ' next '
	              || coalesce((c.pool_next_us = (SELECT (extract(epoch FROM t.run_at) * 1000000)::bigint
	                                              FROM task t WHERE t.name = 'q'))::text, 'none')
	         ELSE 'claimed ' || (SELECT t.name FROM task t WHERE t.id = c.id) END
	  FROM $call c ORDER BY 1;
	SELECT 'row ' || name || ' ' || state || ' ' || attempt || ' '
	       || CASE WHEN state = 'running' THEN coalesce(daemon, '-') ELSE '-' END || ' '
	       || ((extract(epoch FROM submitted_at) * 1e6)::bigint = $US)
	  FROM task WHERE pool = 'ghost' ORDER BY name;
	SELECT 'claim() calls ' || coalesce(pg_stat_get_xact_function_calls(
	         'claim(bigint, bigint[], bigint[], text[], int[], int[], int[])'::regprocedure), 0);
	ROLLBACK;
	SQL
}

# A task row of pool ghost: name, state, then more columns and values.
task() {
	local name=$1 state=$2 cols=${3:+, $3} vals=${4:+, $4}
	echo "INSERT INTO task (id, pool, name, state, query, uid, gid, instance$cols)
	      VALUES (nextval('task_id_seq'), 'ghost', '$name', '$state', 'SELECT 1;', 0, 0, 900001$vals);"
}

# check NAME SETUP LOCAL HOW EXPECTED: HOW is "itself" when claim_one()'s
# own update must take the file, "through claim()" when it must call it.
check() {
	local name=$1 setup=$2 local=$3 how=$4 expected=$5 a b calls
	a=$(run_case claim "$setup" "$local" 2>&1)
	b=$(run_case claim_one "$setup" "$local" 2>&1)
	calls=$(tail -n 1 <<<"$b")
	a=$(sed '$d' <<<"$a")
	b=$(sed '$d' <<<"$b")
	t_is "$b" "$a" "$name: claim_one() decides as claim()"
	t_is "$b" "$expected" "$name: what is claimed, the pool's row, each row's state"
	t_is "$calls" "claim() calls $([ "$how" = itself ] && echo 0 || echo 1)" \
		"$name: claim_one() decides $how"
}

check "a pool with room" "$(task x staged)" 0 itself \
"claimed x
pool ghost 2 false next none
row x running 1 claimone:1 true"

check "a queued task goes first" "$(task q queued)$(task x staged)" 0 "through claim()" \
"claimed q
pool ghost 2 false next none
row q running 1 claimone:1 false
row x queued 0 - true"

check "a better priority goes first" \
	"$(task q queued)$(task x staged priority -1)" 0 "through claim()" \
"claimed x
pool ghost 2 false next none
row q queued 0 - false
row x running 1 claimone:1 true"

check "a due hold goes first" \
	"$(task q queued run_at "clock_timestamp() - interval '1 second'")$(task x staged)" 0 "through claim()" \
"claimed q
pool ghost 2 false next none
row q running 1 claimone:1 false
row x queued 0 - true"

check "a hold not yet due does not" \
	"$(task q queued run_at "clock_timestamp() + interval '1 hour'")$(task x staged)" 0 itself \
"claimed x
pool ghost 2 false next true
row q queued 0 - false
row x running 1 claimone:1 true"

check "a paused pool" \
	"INSERT INTO pool_setting (pool, paused) VALUES ('ghost', true);$(task x staged)" 0 "through claim()" \
"pool ghost 2 true next none
row x queued 0 - true"

check "a pool full with another daemon's tasks" \
	"$(task o1 running)$(task o2 running)UPDATE task SET instance = 900002 WHERE name IN ('o1', 'o2');$(task x staged)" 0 "through claim()" \
"pool ghost 2 false next none
row o1 running 0 - false
row o2 running 0 - false
row x queued 0 - true"

check "a pool full with this daemon's tasks" "$(task x staged)" 2 "through claim()" \
"pool ghost 2 false next none
row x queued 0 - true"

check "a live limit above the configured one" \
	"INSERT INTO pool_setting (pool, max_workers) VALUES ('ghost', 3);$(task x staged)" 2 itself \
"claimed x
pool ghost 3 false next none
row x running 1 claimone:1 true"

check "a file that waits for another (after=)" \
	"$(task d done)$(task x staged after "ARRAY[(SELECT id FROM task WHERE name = 'd')]")" 0 "through claim()" \
"pool ghost 2 false next none
row d done 0 - false
row x queued 0 - true"

check "a file cancelled since its release" "$(task x cancelled)" 0 "through claim()" \
"pool ghost 2 false next none
row x cancelled 0 - false"

# The daemon's own pickup: an idle pool, one cp, claimed by claim_one().
# (The daemon runs with -d from here: its debug lines say when it names a
# session ahead of a claim, and when it takes the name back.)
calls() {
	ctl -c "SELECT coalesce((SELECT calls FROM pg_stat_user_functions
		WHERE schemaname = 'pgqfs' AND funcname = '$1'), 0)"
}
ctl -c "ALTER SYSTEM SET track_functions = 'pl'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.3
pgqfs_stop
pgqfs_start main -d || t_bail "daemon did not restart"
logged() { grep -qF "task $1: $2" "${PGQFS_LOG[main]}"; }
printf 'SELECT 42 AS answer;\n' >"$E2E_TMP/one.sql"
id=$(new_id)
one0=$(($(calls claim_one) + $(calls claim_held)))
submit default "$E2E_TMP/one.sql" "$id.sql" || t_fail "cp"
t_is "$(cat "$MNT/tasks/$id/wait")" done "the file ran"
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$E2E_TMP/one.sql" >"$E2E_TMP/one.ref"
t_cmp "$E2E_TMP/one.ref" "$MNT/done/$id/result" "its result is psql's"
# Statistics of a backend reach the server within a second when busy,
# and at its next transaction's end.
# On an idle daemon the claim goes with the file's staging (claim_held(),
# schema version 13); when the daemon was busy at the close, with its
# release (claim_one()).
one_called() { [ "$(($(calls claim_one) + $(calls claim_held)))" -gt "$one0" ]; }
t_ok "the daemon claimed it with claim_one() or claim_held()" wait_until 15 one_called

# A file whose first statement is not a plain query (SHOW): its session
# is named while claim_one() is in flight, or while the file is closed
# once claimed with its staging (conn_prename()): its statements,
# sent with no set-up of their own, run under the task's application_name,
# and the name goes with the session's reset after it.
printf 'SHOW work_mem;\nSELECT pg_sleep(1.5) AS slept;\n' >"$E2E_TMP/sleep.sql"
sid=$(new_id)
submit default "$E2E_TMP/sleep.sql" "$sid.sql" || t_fail "cp of the sleeping task"
# sleeping ID QUERY: task ID's backend runs, under its name, the query
# string QUERY (an SQL expression).
sleeping() {
	[ "$(psql_ref -d app -tAXc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs task $1' AND state = 'active'
		  AND query = $2")" = 1 ]
}
t_ok "its backend runs its statement under its application_name" \
	wait_until 10 sleeping "$sid" "'SELECT pg_sleep(1.5) AS slept;'"
t_ok "the daemon named that session ahead of its start" \
	logged "$sid" "a session is named for it while"
t_is "$(cat "$MNT/tasks/$sid/wait")" done "the sleeping task is done"
named_idle() {
	[ "$(psql_ref -d app -tAXc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs task $1'")" != 0 ]
}
t_ok "no session keeps its name after it" wait_until 10 eval "! named_idle $sid"

# A plain query first: no naming while the claim is in flight (it would
# only take a CPU from the claim); the naming goes in the string of the
# first statement, which runs under the task's application_name.
printf 'SELECT pg_sleep(1.5) AS slept;\nSELECT 1 AS after;\n' >"$E2E_TMP/plain.sql"
pid_=$(new_id)
submit default "$E2E_TMP/plain.sql" "$pid_.sql" || t_fail "cp of the plain task"
# (pg_stat_activity.query: the naming's line, then the statement.)
t_ok "a plain first statement runs under its application_name" \
	wait_until 10 sleeping "$pid_" "'SELECT pg_catalog.set_config(''application_name'', ''pgqfs task $pid_'', false);'
		|| chr(10) || 'SELECT pg_sleep(1.5) AS slept;'"
t_ok "named in its string" logged "$pid_" "its session is named in its first statement's query string"
t_ok "not ahead of its start" eval "! logged $pid_ 'a session is named for it while'"
t_is "$(cat "$MNT/tasks/$pid_/wait")" done "the plain task is done"
t_ok "no session keeps its name after it" wait_until 10 eval "! named_idle $pid_"

# A task of that one statement goes in pipeline mode (src/pipe.c): its
# naming is a query of its own in the same write, and the statement, sent
# alone, runs under the task's name; the reset behind it takes the name.
printf 'SELECT pg_sleep(1.5) AS slept;\n' >"$E2E_TMP/piped.sql"
qid=$(new_id)
submit default "$E2E_TMP/piped.sql" "$qid.sql" || t_fail "cp of the piped task"
t_ok "a lone plain statement runs alone under its application_name" \
	wait_until 10 sleeping "$qid" "'SELECT pg_sleep(1.5) AS slept;'"
t_ok "named, run and reset in one write" logged "$qid" "named, run and reset in one write"
t_ok "not named ahead of its start" eval "! logged $qid 'a session is named for it while'"
t_is "$(cat "$MNT/tasks/$qid/wait")" done "the piped task is done"
t_file_is "$MNT/done/$qid/result" $'slept\n\n' "its result is psql's"
t_ok "no session keeps its name after it" wait_until 10 eval "! named_idle $qid"

# A file released while another daemon fills its pool: this daemon sees
# room, so claim_one() goes and names a session for the file meanwhile;
# the claim takes nothing, the file waits queued, and the session takes
# its name back (only the session that runs a task carries its name).
pgqfs_start b || t_bail "daemon b did not start"
B=$(mnt b)
printf 'SELECT pg_sleep(3);\n' >"$E2E_TMP/long.sql"
lid=$(cat "$B/new-id")
cp "$E2E_TMP/long.sql" "$B/queue/solo/$lid.sql" || t_fail "cp of b's long task"
b_running() { [ "$(cat "$B/tasks/$lid/state" 2>/dev/null)" = running ]; }
t_ok "b runs its task in pool solo (limit 1)" wait_until 10 b_running
printf 'SHOW work_mem;\nSELECT 1 AS x;\n' >"$E2E_TMP/x.sql"
xid=$(new_id)
submit solo "$E2E_TMP/x.sql" "$xid.sql" || t_fail "cp into the full pool"
x_queued() { [ "$(cat "$MNT/tasks/$xid/state" 2>/dev/null)" = queued ]; }
t_ok "the file waits: the pool is full on b" wait_until 10 x_queued
sessions_named() {
	psql_ref -d app -tAXc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgqfs task $1'"
}
unnamed() { [ "$(sessions_named "$xid")" = 0 ]; }
t_ok "no session carries its name while it waits" wait_until 5 unnamed
t_ok "a session was named for it while claim_one() was in flight" \
	logged "$xid" "a session is named for it while its claim is in flight"
t_ok "and took its name back when the claim did not give it the file" \
	logged "$xid" "not run here; the session named for it takes its name back"
t_is "$(cat "$MNT/tasks/$xid/wait")" done "it runs once b's task ends"
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$E2E_TMP/x.sql" >"$E2E_TMP/x.ref"
t_cmp "$E2E_TMP/x.ref" "$MNT/done/$xid/result" "with its result, psql's"

t_done
