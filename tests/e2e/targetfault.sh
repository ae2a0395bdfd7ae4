#!/usr/bin/env bash
# Faulty targets never hold up the daemon: a target that accepts TCP and
# never answers fails its task after the connect timeout (the conninfo's,
# else the config's) while other pools run; host names are resolved off the
# loop and still reach the server; a cancel sent to a hung server blocks no
# other pool, and its task fails after a grace; a task's result is capped by
# max_result_bytes, of the result and of the log; a huge value does not
# leave the daemon's memory large;
# and a file cut short runs nothing.  The control connection too resolves
# its host name off the loop when it reconnects.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	if [ "$1" = namedctl ]; then
		# Its control database by host name, through a proxy of its own.
		pgqfs_default_config "$@" |
			sed "s|^control = .*|control = host=localhost port=$CTL_PROXY_PORT dbname=pgqfs_ctl|"
		return
	fi
	pgqfs_default_config "$@" | sed 's/^retention = 7d$/&\nconnect_timeout = 2s/'
	cat <<EOF

[target hole]
conninfo = host=127.0.0.1 port=$BLACKHOLE_PORT dbname=app user=postgres connect_timeout=2
max_workers = 2

[target hole_default]
conninfo = host=127.0.0.1 port=$BLACKHOLE_PORT dbname=app user=postgres
max_workers = 1

[target hole_name]
conninfo = host=localhost port=$BLACKHOLE_PORT dbname=app user=postgres connect_timeout=3
max_workers = 1

[target proxied]
conninfo = host=localhost port=$PROXY_PORT dbname=app user=postgres connect_timeout=5
max_workers = 2

[pool hole]
target = hole
max_workers = 2

[pool hole_default]
target = hole_default
max_workers = 1

[pool hole_name]
target = hole_name
max_workers = 1

[pool proxied]
target = proxied
max_workers = 2
timeout = 1s

[pool capped]
target = main
max_workers = 2
max_result_bytes = 1000
EOF
}

pg_start
tcp_blackhole
tcp_proxy proxy
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
state_is() { [ "$(cat "$MNT/tasks/$1/state" 2>/dev/null)" = "$2" ]; }
# active PATTERN: is a statement LIKE PATTERN running on the target?
active() {
	[ "$(psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE '$1' AND pid <> pg_backend_pid()")" != 0 ]
}

# ---- connect timeouts: the blackhole's tasks fail, the good pool runs.
echo 'SELECT 1 AS never;' >"$W/hole.sql"
echo 'SELECT 42 AS answer;' >"$W/good.sql"
hole=$(new_id)
hole_def=$(new_id)
hole_name=$(new_id)
t0=$SECONDS
submit hole "$W/hole.sql" "$hole.sql"
submit hole_default "$W/hole.sql" "$hole_def.sql"
submit hole_name "$W/hole.sql" "$hole_name.sql"
good=()
for i in 1 2 3 4 5 6; do
	id=$(new_id)
	submit default "$W/good.sql" "$id.sql"
	good+=("$id")
done
for id in "${good[@]}"; do
	t_is "$(task_wait "$id" 10)" done "task $id of a good pool is done while a target hangs"
done
t_is "$(task_wait "$hole" 20)" failed "a task whose target never answers fails"
t_ok "after its conninfo's connect_timeout of 2 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 5
t_like "$(cat "$MNT/tasks/$hole/error")" '^pgqfs: could not connect to target hole: timeout after 2 s' \
	"its error says it could not connect, and why"
t_is "$(task_wait "$hole_def" 20)" failed "without connect_timeout in the conninfo, the task fails too"
t_like "$(cat "$MNT/tasks/$hole_def/error")" 'could not connect to target hole_default: timeout after 2 s' \
	"after the config's connect_timeout"
t_is "$(task_wait "$hole_name" 20)" failed "a target named by host name that never answers fails too"
t_like "$(cat "$MNT/tasks/$hole_name/error")" 'could not connect to target hole_name: timeout after 3 s' \
	"after its connect_timeout"

# ---- host names: resolved off the loop, the connection works.
echo "SELECT current_database() AS db, 'via name' AS how;" >"$W/named.sql"
named=$(new_id)
submit proxied "$W/named.sql" "$named.sql"
t_is "$(task_wait "$named" 20)" done "a target named by host name (localhost) runs tasks"
t_file_is "$MNT/tasks/$named/result" $'db,how\napp,via name\n' "with the right result"

# ---- a cancel against a hung server blocks nothing else.
echo 'SELECT pg_sleep(60);' >"$W/sleep.sql"
sleeper=$(new_id)
submit proxied "$W/sleep.sql" "$sleeper.sql"
wait_until 10 state_is "$sleeper" running || t_fail "the task through the proxy runs"
sleep 0.3
kill -STOP "$PROXY_PID"
t1=$SECONDS
# The pool's timeout (1 s) fires now: its cancel goes to a server that never
# answers.  Other pools' tasks must not wait for it.
sleep 1.5
good=()
for i in 1 2 3; do
	id=$(new_id)
	submit default "$W/good.sql" "$id.sql"
	good+=("$id")
done
for id in "${good[@]}"; do
	t_is "$(task_wait "$id" 3)" done "task $id of another pool is done while a cancel hangs"
done
t_is "$(task_wait "$sleeper" 20)" failed "the task whose cancel hangs fails"
t_ok "after the timeout and the cancel's grace of 5 s ($((SECONDS - t1)) s)" \
	test $((SECONDS - t1)) -ge 5 -a $((SECONDS - t1)) -le 10
error=$(cat "$MNT/tasks/$sleeper/error")
t_like "$error" "^pgqfs: cancelled after the pool's timeout of 1 s"$'\n' "its error says it timed out"
t_like "$error" 'did not end within 5 s of its cancel: closed the connection to target proxied' \
	"and that its connection was closed when the cancel got no answer"
t_like "$error" $'\nSQLSTATE: 57014\n$' "and the timeout's SQLSTATE"
kill -CONT "$PROXY_PID"
wait_until 10 eval '! active "%SELECT pg_sleep(60)%"' ||
	t_fail "the cancelled statement ended once the server answered again"

# ---- max_result_bytes
# capped_fails FILE WHAT: FILE submitted to the capped pool fails, its
# error saying that its WHAT (result, log) reached the cap; its id in $id.
capped_fails() {
	id=$(new_id)
	submit capped "$1" "$id.sql"
	t_is "$(task_wait "$id" 30)" failed "a task whose $2 passes its pool's max_result_bytes fails"
	error=$(cat "$MNT/tasks/$id/error")
	t_like "$error" "^pgqfs: the $2 reached the pool's max_result_bytes of 1000 bytes" \
		"its error says why"
	t_like "$error" $'\nSQLSTATE: 54000\n$' "with a SQLSTATE"
}
echo 'SELECT g, md5(g::text) AS h FROM generate_series(1, 2000000) g;' >"$W/big.sql"
capped_fails "$W/big.sql" result
big=$id
size=$(stat -c %s "$MNT/tasks/$big/result")
t_ok "its result holds at most the cap ($size bytes)" test "$size" -le 1000 -a "$size" -gt 0
psql_ref -q --csv -d app -c 'SELECT g, md5(g::text) AS h FROM generate_series(1, 100) g' |
	head -c "$size" >"$W/big.want"
t_cmp "$W/big.want" "$MNT/tasks/$big/result" "and that is how psql's output begins"
wait_until 10 eval '! active "%generate_series(1, 2000000)%"' ||
	t_fail "its statement was cancelled on the target"
echo "SELECT 'small' AS s;" >"$W/small.sql"
small=$(new_id)
submit capped "$W/small.sql" "$small.sql"
t_is "$(task_wait "$small" 10)" done "a task within the cap is done"
# A statement past the cap that ends before its cancel arrives (a quick
# one, the task's last) fails the task all the same.
echo 'SELECT g FROM generate_series(1, 5000) g;' >"$W/quick.sql"
for k in 1 2 3; do
	quick=$(new_id)
	submit capped "$W/quick.sql" "$quick.sql"
	t_is "$(task_wait "$quick" 10)" failed "a quick task past the cap fails ($k)"
	t_like "$(cat "$MNT/tasks/$quick/error")" "^pgqfs: the result reached the pool's max_result_bytes" \
		"its error says why ($k)"
done

# The log is capped as the result is, on its own: a statement that raises
# notices without end is cancelled once they reach the cap.
cat >"$W/noisy.sql" <<'SQL'
DO $$ BEGIN LOOP RAISE NOTICE 'noise %', repeat('n', 40); PERFORM pg_sleep(0.001); END LOOP; END $$;
SQL
capped_fails "$W/noisy.sql" log
noisy=$id
size=$(stat -c %s "$MNT/tasks/$noisy/log")
# The cap, then the daemon's own two lines (the cancel, the end).
t_ok "its log holds the cap and two lines more at most ($size bytes)" test "$size" -le 1250
t_ok "the notices before the cap are in it" grep -q "NOTICE:  noise nnnn" "$MNT/tasks/$noisy/log"
wait_until 10 eval '! active "%RAISE NOTICE%"' ||
	t_fail "its statement was cancelled on the target"

# ---- a file cut short runs nothing.
psql_ref -q -d app -c 'CREATE TABLE cut (x int)'
printf 'INSERT INTO cut VALUES (1);\nSELECT 1 AS one;\nDELETE FROM cut\n' >"$W/cut.sql"
cut=$(new_id)
submit default "$W/cut.sql" "$cut.sql"
t_is "$(task_wait "$cut" 10)" failed "a file cut short fails"
t_like "$(cat "$MNT/tasks/$cut/error")" \
	'^pgqfs: not run: the file ends inside a statement at line 3; a ";" ends it' \
	"its error says where"
t_is "$(psql_ref -d app -tAc 'SELECT count(*) FROM cut')" 0 "the insert before the cut did not run"
t_is "$(stat -c %s "$MNT/tasks/$cut/result")" 0 "its result is empty"
# It fails at once, as a bad header does: in a paused pool too, not when
# a slot would have run it.
echo 1 >"$MNT/pools/default/paused"
cut2=$(new_id)
submit default "$W/cut.sql" "$cut2.sql"
t_ok "in a paused pool, a file cut short fails at once" \
	wait_file_content "$MNT/tasks/$cut2/state" failed
t_like "$(cat "$MNT/tasks/$cut2/error")" 'ends inside a statement at line 3' "its error says where"
echo 0 >"$MNT/pools/default/paused"
t_is "$(psql_ref -d app -tAc 'SELECT count(*) FROM cut')" 0 "nothing of either ran"
pgqfs_stop

# A second daemon: its connections are new, and the memory check needs a
# build without sanitizers when there is one.
if nm -D "$PGQFS" 2>/dev/null | grep __asan_init >/dev/null; then
	[ -x "${PGQFS_PLAIN:-}" ] && PGQFS=$PGQFS_PLAIN
fi
# Under standard_conforming_strings off (as the session has it, not as the
# file's submitter guessed), 'a\' leaves the string open: cut short.
psql_ref -q -d app -c 'ALTER DATABASE app SET standard_conforming_strings = off'
pgqfs_start second || t_bail "the second daemon did not start"
MNT=${PGQFS_MNT[second]}
pid=${PGQFS_PID[second]}
printf "INSERT INTO cut VALUES (2);\nSELECT 'a\\\\';\n" >"$W/scs.sql"
scs=$(new_id)
submit fast "$W/scs.sql" "$scs.sql"
t_is "$(task_wait "$scs" 10)" failed "with standard_conforming_strings off, a file ending in 'a\\'; is cut short"
t_like "$(cat "$MNT/tasks/$scs/error")" 'ends inside a statement at line 2' "its error says where"
t_is "$(psql_ref -d app -tAc 'SELECT count(*) FROM cut')" 0 "nothing of it ran"
psql_ref -q -d app -c 'ALTER DATABASE app RESET standard_conforming_strings'

# ---- memory after a huge value.
if nm -D "$PGQFS" 2>/dev/null | grep __asan_init >/dev/null; then
	t_skip "RSS after a huge value" "the build uses ASan; set PGQFS_PLAIN"
else
	echo "SELECT repeat('x', 100000000) AS big;" >"$W/huge.sql"
	huge=$(new_id)
	submit default "$W/huge.sql" "$huge.sql"
	t_is "$(task_wait "$huge" 60)" done "a task returning a 100 MB value is done"
	t_is "$(stat -c %s "$MNT/tasks/$huge/result")" 100000005 "its result is whole"
	rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
	# Its connection is closed and the memory trimmed in the round after.
	rss_low() { [ "$(rss_kb)" -lt 65536 ]; }
	wait_until 5 rss_low
	t_ok "the daemon's RSS is back under 64 MiB ($(rss_kb) kB)" test "$(rss_kb)" -lt 65536
fi
pgqfs_stop second

# ---- a control connection by host name reconnects (resolved off the loop).
tcp_proxy ctlproxy
CTL_PROXY_PORT=$PROXY_PORT
pgqfs_start namedctl || t_bail "the daemon with a named control database did not start"
MNT=${PGQFS_MNT[namedctl]}
ctl_pid() {
	psql_ref -d pgqfs_ctl -tAc "SELECT pid FROM pg_stat_activity
		WHERE application_name = 'pgqfs executor'"
}
cpid=$(ctl_pid)
t_like "$cpid" '^[0-9]+$' "its control backend is found"
psql_ref -qAt -c "SELECT pg_terminate_backend($cpid)" >/dev/null
back() { grep -q 'reconnected to the control database' "${PGQFS_LOG[namedctl]}"; }
t_ok "it reconnects" wait_until 15 back
npid=$(ctl_pid)
t_like "$npid" '^[0-9]+$' "it has a control backend again"
t_ok "a new one" test "$npid" != "$cpid"
after=$(new_id)
submit default "$W/good.sql" "$after.sql"
t_is "$(task_wait "$after" 15)" done "a task submitted after the reconnection is done"

# ---- an error of 1 MB (a RAISE may say 1 GB): the error kept is cut at
# 64 KiB, at a character, and says so; it is read with every look-up.
printf "DO \$\$BEGIN RAISE EXCEPTION '%%', repeat('é', 500000); END\$\$;\n" >"$W/bigerr.sql"
big=$(new_id)
submit default "$W/bigerr.sql" "$big.sql"
t_is "$(task_wait "$big" 15)" failed "a task raising a 1 MB error fails"
sz=$(stat -c %s "$MNT/tasks/$big/error")
t_ok "its error is cut to 64 KiB ($sz bytes)" test "$sz" -le 65536 -a "$sz" -gt 60000
t_like "$(head -c 60 "$MNT/tasks/$big/error")" '^psql:query.sql:1: ERROR:  éé' "it begins as psql's"
t_like "$(tail -c 80 "$MNT/tasks/$big/error")" 'the error is cut here, at 64 KiB' "it says where it is cut"
t_ok "it is valid UTF-8" bash -c "iconv -f UTF-8 -t UTF-8 '$MNT/tasks/$big/error' >/dev/null"
pgqfs_stop namedctl
t_done
