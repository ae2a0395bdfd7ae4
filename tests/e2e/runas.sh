#!/usr/bin/env bash
# run_as = submitter: a task connects as the role named like its submitter,
# connections are pooled per role, users cannot see or cancel each other's
# queries, and a user without a role (or a uid without a name) gets a clear
# error.  run_as = target keeps the conninfo's role.
. "$SRCDIR/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { t_skip "run_as" "needs root to act as other users"; t_done; }
command -v useradd >/dev/null || { t_skip "run_as" "no useradd"; t_done; }

UA=pgqtest_a UB=pgqtest_b UC=pgqtest_c	# C gets no role
NONAME_UID=54321			# a uid with no user name
# Users of the machine: made once, kept (other runs may be using them).
for u in $UA $UB $UC; do
	id "$u" >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$u" \
		>/dev/null 2>&1 || id "$u" >/dev/null 2>&1 || t_bail "cannot create user $u"
done
getent passwd "$NONAME_UID" >/dev/null && { t_skip "run_as" "uid $NONAME_UID has a name here"; t_done; }

pgqfs_config() {
	pgqfs_default_config "$@"
	cat <<EOF

[pool mine]
target = main
max_workers = 4
run_as = submitter

; One connection: a task of another role takes the place of an idle one.
[target small]
conninfo = $PGQFS_TARGET
max_workers = 1

[pool one]
target = small
max_workers = 1
run_as = submitter

; No dbname: the database stays the conninfo's user's, not the role's.
[target nodb]
conninfo = $PG_CONNINFO
max_workers = 2

[pool nodb]
target = nodb
max_workers = 2
run_as = submitter
EOF
}

pg_start
psql_ref -q -v ON_ERROR_STOP=1 -c "CREATE ROLE $UA LOGIN" -c "CREATE ROLE $UB LOGIN" >/dev/null ||
	t_bail "cannot create the roles"
pgqfs_start main -o allow_other || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$E2E_TMP" "$W"

as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
# sub USER POOL NAME SQL: USER submits SQL as POOL/ID.sql; prints ID.
sub() {
	local u=$1 pool=$2 f=$W/$3.sql id
	printf '%s\n' "$4" >"$f"
	chmod 644 "$f"
	id=$(as "$u" cat "$MNT/new-id") || return 1
	as "$u" cp "$f" "$MNT/queue/$pool/$id.sql" || return 1
	echo "$id"
}
# waitas USER ID: the task's final state, read by its submitter.
waitas() { timeout 60 runuser -u "$1" -- cat "$MNT/tasks/$2/wait"; }
pid_of() { grep '^backend_pid=' "$MNT/tasks/$1/info" | cut -d= -f2; }
WHO="SELECT current_user AS u, session_user AS s, current_database() AS d;"

# ---- who a task runs as
id=$(sub $UA mine who "$WHO")
t_is "$(waitas $UA "$id")" done "A's task in a run_as = submitter pool is done"
t_file_is "$MNT/tasks/$id/result" $'u,s,d\npgqtest_a,pgqtest_a,app\n' \
	"it ran as role $UA, in the target's database"
id=$(sub $UB mine who "$WHO")
t_is "$(waitas $UB "$id")" done "B's task is done"
t_file_is "$MNT/tasks/$id/result" $'u,s,d\npgqtest_b,pgqtest_b,app\n' "it ran as role $UB"
id=$(sub $UA default who "$WHO")
t_is "$(waitas $UA "$id")" done "A's task in a run_as = target pool is done"
t_file_is "$MNT/tasks/$id/result" $'u,s,d\npostgres,postgres,app\n' \
	"it ran as the conninfo's role"
id=$(sub $UA nodb who "$WHO")
t_is "$(waitas $UA "$id")" done "A's task on a target whose conninfo names no database is done"
t_file_is "$MNT/tasks/$id/result" $'u,s,d\npgqtest_a,pgqtest_a,postgres\n' \
	"it ran as $UA in the database of the conninfo's user"

# ---- users cannot see or cancel each other's queries
ida=$(sub $UA mine sleep "SELECT pg_sleep(60);")
# (Functions: wait_until runs its command again; test "$(...)" would not.)
a_runs() { [ "$(cat "$MNT/tasks/$ida/state" 2>/dev/null)" = running ]; }
wait_until 20 a_runs ||
	t_diag "A's sleeping task is not running"
act() {
	psql_ref -d app -tAc "SELECT $1 FROM pg_stat_activity WHERE application_name = 'pgqfs task $ida'"
}
a_named() { [ -n "$(act pid)" ]; }
wait_until 20 a_named
pida=$(act pid)
# (Its query string: the session's naming on a line, then the statement.)
t_is "$(act "usename || ' ' || (query LIKE '%SELECT pg_sleep(60);')::text")" "$UA true" \
	"pg_stat_activity: A's task's backend is role $UA (found by application_name)"
idb=$(sub $UB mine peek "SELECT usename, query FROM pg_stat_activity WHERE pid = $pida;")
t_is "$(waitas $UB "$idb")" done "B's task reads pg_stat_activity"
t_file_is "$MNT/tasks/$idb/result" $'usename,query\npgqtest_a,<insufficient privilege>\n' \
	"B sees <insufficient privilege> as A's query"
t_is "$(psql_ref -U $UB -d app -tAc "SELECT query FROM pg_stat_activity WHERE pid = $pida")" \
	"<insufficient privilege>" "and so does role $UB in psql"
idb=$(sub $UB mine kill "SELECT pg_cancel_backend($pida);")
t_is "$(waitas $UB "$idb")" failed "B's task cancelling A's backend fails"
# (PostgreSQL 16 says "permission denied to cancel query", 15 this.)
t_like "$(cat "$MNT/tasks/$idb/error")" \
	'permission denied to cancel query|must be a member of the role whose query is being canceled' \
	"with permission denied"
t_like "$(cat "$MNT/tasks/$idb/error")" '^SQLSTATE: 42501$' "SQLSTATE 42501"
t_is "$(cat "$MNT/tasks/$ida/state")" running "A's task still runs"
t_is "$(act state)" active "and its statement too"
t_is "$(psql_ref -tAc "SELECT pg_cancel_backend($pida)")" t "the superuser cancels it"
t_is "$(waitas $UA "$ida")" failed "then A's task fails"
t_like "$(cat "$MNT/tasks/$ida/error")" 'SQLSTATE: 57014' "cancelled (57014)"

# ---- errors
idc=$(sub $UC mine who "$WHO")
t_is "$(waitas $UC "$idc")" failed "a task of a user with no role fails"
t_like "$(cat "$MNT/tasks/$idc/error")" 'role "pgqtest_c" does not exist' \
	"its error has the server's message naming the role"
t_like "$(cat "$MNT/tasks/$idc/error")" 'as role pgqtest_c' "and says which role it tried"
t_diag "$(cat "$MNT/tasks/$idc/error")"
printf '%s\n' "$WHO" >"$W/noname.sql"
chmod 644 "$W/noname.sql"
nid=$(setpriv --reuid=$NONAME_UID --regid=$NONAME_UID --clear-groups cat "$MNT/new-id")
t_ok "a uid without a name submits" setpriv --reuid=$NONAME_UID --regid=$NONAME_UID --clear-groups \
	cp "$W/noname.sql" "$MNT/queue/mine/$nid.sql"
t_is "$(task_wait "$nid")" failed "its task fails"
t_file_is "$MNT/tasks/$nid/error" \
	"pgqfs: uid $NONAME_UID has no user name; run_as = submitter needs a role named like the user"$'\n' \
	"saying the uid has no name"
t_is "$(grep -c 'started on target' "$MNT/tasks/$nid/log")" 0 "and it never started"
t_like "$(cat "$MNT/tasks/$nid/log")" "no user name for uid $NONAME_UID" "its log says why"
t_like "$(cat "$MNT/tasks/$idc/log")" 'could not connect to target main as role pgqtest_c' \
	"the log of the task without a role says which role it tried"

# ---- connections pooled per (target, role): target small has one
PIDQ="SELECT pg_backend_pid() AS pid, current_user AS u;"
i1=$(sub $UA one p1 "$PIDQ")
t_is "$(waitas $UA "$i1")" done "A's first task on a one-connection target"
i2=$(sub $UA one p2 "$PIDQ")
t_is "$(waitas $UA "$i2")" done "A's second"
p1=$(pid_of "$i1") p2=$(pid_of "$i2")
t_ok "A's two tasks in a row ran on one backend ($p1, $p2)" test -n "$p1" -a "$p1" = "$p2"
t_file_is "$MNT/tasks/$i2/result" "pid,u"$'\n'"$p2,pgqtest_a"$'\n' "as $UA"
i3=$(sub $UB one p3 "$PIDQ")
t_is "$(waitas $UB "$i3")" done "then B's task"
p3=$(pid_of "$i3")
t_ok "B's task did not get A's connection ($p3)" test -n "$p3" -a "$p3" != "$p1"
t_file_is "$MNT/tasks/$i3/result" "pid,u"$'\n'"$p3,pgqtest_b"$'\n' "it ran as $UB"
backend_gone() { [ "$(psql_ref -tAc "SELECT count(*) FROM pg_stat_activity WHERE pid = $1")" = 0 ]; }
t_ok "A's idle connection was closed to make room" \
	wait_until 10 backend_gone "$p1"
i4=$(sub $UA one p4 "$PIDQ")
t_is "$(waitas $UA "$i4")" done "A's next task"
p4=$(pid_of "$i4")
t_ok "it did not get B's connection ($p4)" test -n "$p4" -a "$p4" != "$p3"
pgqfs_stop main
t_done
