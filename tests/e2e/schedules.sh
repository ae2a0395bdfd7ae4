#!/usr/bin/env bash
# Schedules (DESIGN.md, Schedules): schedules/<pool>/NAME.sql with every= or
# cron= submits NAME.sql to the pool at each tick, once per tick however
# many daemons share the control database (two here), skipping a tick while
# the last run is pending or running; rm ends it; a bad schedule is refused
# at close() with EINVAL and a log line; only its owner (or root) replaces
# or ends it; every mount lists it; a run's info names its schedule.  The
# control database (psql) is the reference for what ran when.
. "$SRCDIR/e2e/lib.sh"

ctl() { psql_ref -d pgqfs_ctl -tAqc "$1"; }
now_db() { ctl "SELECT clock_timestamp()"; }
py_errno() {
	python3 -c "
import errno, os, sys
try:
    $1
    print('ok')
except OSError as e:
    print(errno.errorcode[e.errno])" "${@:2}"
}

pg_start
psql_ref -d app -qc "CREATE TABLE ticks (id serial, at timestamptz DEFAULT clock_timestamp());
	GRANT ALL ON ticks, ticks_id_seq TO PUBLIC" || t_bail "cannot create the target table"
pgqfs_start a -o allow_other || t_bail "daemon a did not start"
pgqfs_start b -o allow_other || t_bail "daemon b did not start"
A=$(mnt a)/schedules
B=$(mnt b)/schedules
chmod 755 "$E2E_TMP"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$W"

t_is "$(ls "$A")" $'default\nfast' "schedules/ lists the configured pools"
t_is "$(stat -c %a "$A/default")" 1777 "schedules/<pool>/ is sticky and writable by all"
t_is "$(ls "$A/default")" "" "no schedules yet"

# ---- every=1s on two daemons: once per tick, ends at rm
printf -- '-- pgqfs: every=1s priority=5\nINSERT INTO ticks DEFAULT VALUES;\n' >"$W/tick.sql"
t0=$(now_db)
t_ok "cp of an every=1s schedule through mount a" cp "$W/tick.sql" "$A/default/tick.sql"
if wait_until 1 test -e "$B/default/tick.sql"; then
	t_pass "mount b lists it within a second"
else
	t_fail "mount b lists it within a second"
fi
t_cmp "$B/default/tick.sql" "$W/tick.sql" "mount b reads it back as written"
t_is "$(stat -c '%U %a %s' "$A/default/tick.sql")" "root 600 $(stat -c %s "$W/tick.sql")" \
	"it is its writer's, 0600 (the pool is not public), of its size"
t_is "$(ctl "SELECT uid, every_ms FROM pgqfs.schedule WHERE pool = 'default' AND name = 'tick.sql'")" \
	"0|1000" "the control database holds it, with its owner"
sleep 6
c0=$(ctl "SELECT created_at FROM pgqfs.schedule WHERE pool = 'default' AND name = 'tick.sql'")
t_ok "rm ends it" rm "$A/default/tick.sql"
t1=$(now_db)
t_is "$(ls "$B/default")" "" "mount b no longer lists it"
n=$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/tick.sql'")
secs=$(ctl "SELECT round(extract(epoch FROM '$t1'::timestamptz - '$t0'::timestamptz), 1)")
# Ticks between the store and the rm: the whole seconds in (c0, t1]; the
# last may have come after the rm, before t1 was read.
ticks=$(ctl "SELECT floor(extract(epoch FROM '$t1'::timestamptz))
	- floor(extract(epoch FROM '$c0'::timestamptz))")
if [ "$n" -ge $((ticks - 1)) ] && [ "$n" -le "$ticks" ] && [ "$n" -ge 5 ]; then
	t_pass "it fired $n times in ${secs}s ($ticks ticks)"
else
	t_fail "it fired $n times in ${secs}s ($ticks ticks: want $((ticks - 1)) or $ticks, at least 5)"
fi
t_is "$(ctl "SELECT count(*) FROM (SELECT date_trunc('second', submitted_at) FROM pgqfs.task
	WHERE schedule = 'default/tick.sql' GROUP BY 1 HAVING count(*) > 1) x")" 0 \
	"never twice in one second"
t_is "$(ctl "SELECT count(DISTINCT split_part(daemon, ':', 2)) > 0 FROM pgqfs.task
	WHERE schedule = 'default/tick.sql'")" t "its runs ran"
fired_by=$(grep -c 'schedule default/tick.sql: task' "$E2E_TMP/a.log" "$E2E_TMP/b.log" | tr '\n' ' ')
t_diag "runs submitted by daemon: $fired_by"
sleep 1.5
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/tick.sql'
	AND submitted_at > '$t1'")" 0 "no run after rm"
id=$(ctl "SELECT max(id) FROM pgqfs.task WHERE schedule = 'default/tick.sql'")
t_is "$(task_wait "$id" 20)" done "its last run is done"
info=$(cat "$(mnt a)/tasks/$id/info")
t_like "$info" $'\nschedule=default/tick.sql\n' "info of a run names its schedule"
t_like "$info" $'\npriority=5\n' "and has the schedule's options"
t_like "$info" $'\nsubmitted_uid=0\n' "it is the schedule owner's"
t_like "$info" $'\nname=tick.sql\n' "it is named as the schedule"
t_cmp "$(mnt a)/tasks/$id/query.sql" "$W/tick.sql" "its query.sql is the schedule's file"
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM ticks")" \
	"$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/tick.sql' AND state = 'done'")" \
	"every run did its insert once"

# ---- cron=, tz=
printf -- '-- pgqfs: cron="* * * * *"\nSELECT 1;\n' >"$W/minutely.sql"
t_ok "a cron=\"* * * * *\" schedule is accepted" cp "$W/minutely.sql" "$A/fast/minutely.sql"
t_is "$(ls "$B/fast")" minutely.sql "and listed on the other mount"
t_is "$(ctl "SELECT extract(second FROM next_at) = 0 AND next_at > clock_timestamp()
	AND next_at <= clock_timestamp() + interval '60 s' FROM pgqfs.schedule WHERE name = 'minutely.sql'")" \
	t "its next tick is the next whole minute"
printf -- '-- pgqfs: cron="30 2 * * sun" tz=Europe/Paris\nSELECT 1;\n' >"$W/paris.sql"
t_ok "cron= with tz=Europe/Paris is accepted" cp "$W/paris.sql" "$A/fast/paris.sql"
t_is "$(ctl "SELECT to_char(next_at AT TIME ZONE 'Europe/Paris', 'Dy HH24:MI') FROM pgqfs.schedule
	WHERE name = 'paris.sql'")" "Sun 02:30" "its next tick is Sunday 02:30 in Paris"
printf -- '-- pgqfs: every=2h priority=3\nSELECT 2;\n' >"$W/minutely2.sql"
t_ok "writing the name again replaces it" cp "$W/minutely2.sql" "$A/fast/minutely.sql"
t_cmp "$B/fast/minutely.sql" "$W/minutely2.sql" "the other mount reads the new file"
t_is "$(ctl "SELECT every_ms, cron IS NULL, priority FROM pgqfs.schedule WHERE name = 'minutely.sql'")" \
	"7200000|t|3" "the control database holds the new schedule"
printf -- '-- pgqfs: cron="@daily" tz=UTC\nSELECT 1;\n' >"$W/daily.sql"
t_ok "cron=\"@daily\" (a shorthand README promises) is accepted" cp "$W/daily.sql" "$A/fast/daily.sql"
t_is "$(ctl "SELECT to_char(next_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM pgqfs.schedule
	WHERE name = 'daily.sql'")" "00:00:00" "its next tick is midnight"
t_ok "rm of a cron schedule" rm "$A/fast/minutely.sql" "$A/fast/paris.sql" "$A/fast/daily.sql"

# ---- shell redirections
printf -- '-- pgqfs: every=1h\nSELECT 1;\n' >"$A/fast/redir.sql"
t_is "$(cat "$B/fast/redir.sql")" $'-- pgqfs: every=1h\nSELECT 1;' "a schedule written with > reads back"
printf -- 'SELECT 2;\n' >>"$A/fast/redir.sql"
t_is "$(cat "$B/fast/redir.sql")" $'-- pgqfs: every=1h\nSELECT 1;\nSELECT 2;' "and >> appends to it"
t_ok "touch of a new name succeeds" touch "$A/fast/empty.sql"
t_is "$(ls "$A/fast")" redir.sql "and stores nothing (an empty file is no schedule)"
rm "$A/fast/redir.sql"

# ---- refusals: EINVAL at close(), a log line, nothing stored
refused() {	# NAME CONTENT LOGPATTERN DESC
	local out
	printf -- "$2" >"$W/$1"
	out=$(cp "$W/$1" "$A/default/$1" 2>&1)
	t_like "$out" 'Invalid argument' "$4: cp gets EINVAL"
	if wait_until 2 grep -q -- "$3" "$E2E_TMP/a.log"; then
		t_pass "$4: the log says why"
	else
		t_fail "$4: the log says why ($3)"
		t_diag_file "$E2E_TMP/a.log" 10
	fi
	t_is "$(ctl "SELECT count(*) FROM pgqfs.schedule WHERE name = '$1'")" 0 "$4: nothing stored"
	t_is "$(ls "$A/default")" "" "$4: nothing listed"
}
refused badcron.sql '-- pgqfs: cron="61 * * * *"\nSELECT 1;\n' \
	'badcron.sql.*field 1 (minute): 61 is out of range' 'cron="61 * * * *"'
refused nohdr.sql 'SELECT 1;\n' 'nohdr.sql.*needs every=DURATION or cron=' 'a file without a header'
refused 4242.sql '-- pgqfs: every=1h\nSELECT 1;\n' '4242.sql.*cannot be named like a task id' \
	'a name like a task id (it would squat the id another user reserves)'
refused short.sql '-- pgqfs: every=500ms\nSELECT 1;\n' 'short.sql.*every' 'every=500ms'
refused badtz.sql '-- pgqfs: cron="0 * * * *" tz=Nowhere/Atall\nSELECT 1;\n' \
	'badtz.sql.*tz=Nowhere/Atall' 'an unknown tz='
refused tzevery.sql '-- pgqfs: every=1m tz=UTC\nSELECT 1;\n' 'tzevery.sql.*tz= is the time zone of cron=' \
	'tz= with every='
refused badkey.sql '-- pgqfs: every=1m sometimes=yes\nSELECT 1;\n' "badkey.sql.*unknown key" \
	'an unknown key'
refused group.sql '-- pgqfs: every=1m group=statements\nSELECT 1;\nSELECT 2;\n' \
	'group.sql.*group= cannot be used in a schedule' 'group='
refused cut.sql '-- pgqfs: every=1h\nSELECT 1;\nSELECT 2\n' \
	'cut.sql.*the file ends inside a statement at line 3' 'a file cut short (each run would fail)'
t_like "$(cp "$W/tick.sql" "$A/default/notsql" 2>&1)" 'Invalid argument' "a name without .sql is refused"

# ---- owners
printf -- '-- pgqfs: every=1h\nSELECT 1;\n' >"$W/hourly.sql"
chmod 644 "$W"/*.sql
cp "$W/hourly.sql" "$A/default/roots.sql"
t_like "$(runuser -u nobody -- cat "$A/default/roots.sql" 2>&1)" 'Permission denied' \
	"another user cannot read root's schedule in a pool that is not public"
t_like "$(runuser -u nobody -- cp "$W/hourly.sql" "$A/default/roots.sql" 2>&1)" 'Permission denied' \
	"another user cannot replace root's schedule (EACCES)"
t_like "$(runuser -u nobody -- cp "$W/hourly.sql" "$B/default/roots.sql" 2>&1)" 'Permission denied' \
	"nor through the other mount"
t_is "$(runuser -u nobody -- python3 -c "
import errno, os
try: os.unlink('$A/default/roots.sql'); print('ok')
except OSError as e: print(errno.errorcode[e.errno])")" EPERM \
	"nor remove it (EPERM: the directory is sticky, as queue/<pool>/ is)"
t_is "$(ctl "SET search_path = pgqfs; SELECT put_schedule('default', 'roots.sql', 65534, 65534, 'x', 0, NULL, NULL,
	NULL, NULL, 1000, NULL, NULL, 0)")" 3 "put_schedule refuses another user's name too"
t_is "$(ctl "SET search_path = pgqfs; SELECT drop_schedule('default', 'roots.sql', 65534)")" 3 "and drop_schedule"
t_is "$(ctl "SELECT uid FROM pgqfs.schedule WHERE name = 'roots.sql'")" 0 "root's schedule is unchanged"
t_ok "nobody writes a schedule of its own" runuser -u nobody -- cp "$W/hourly.sql" "$A/default/nobodys.sql"
t_is "$(stat -c %U "$B/default/nobodys.sql")" nobody "it is nobody's"
t_ok "and replaces it" runuser -u nobody -- cp "$W/hourly.sql" "$A/default/nobodys.sql"
t_ok "root may replace another user's schedule" cp "$W/hourly.sql" "$A/default/nobodys.sql"
t_is "$(stat -c %U "$A/default/nobodys.sql")" root "and then owns it"

# ---- a write that meets a deadlock is tried again: a session holds
# dl.sql's row, then asks for the lock on its name that the daemon's write
# takes first.  The server fails the daemon's statement, the one that waited
# longer (the session looks only after 10 s); tried again, the write waits
# for the session's commit, then goes through.
t_ok "nobody writes dl.sql" runuser -u nobody -- cp "$W/hourly.sql" "$A/default/dl.sql"
psql_ref -d pgqfs_ctl -v ON_ERROR_STOP=1 -qAt >"$W/dl.out" 2>&1 <<'SQL' &
SET deadlock_timeout = '10s';
BEGIN;
SELECT 'row' FROM pgqfs.schedule WHERE pool = 'default' AND name = 'dl.sql' FOR UPDATE;
SELECT pg_sleep(1) AS slept \gset
SELECT 'name' FROM pg_advisory_xact_lock(hashtext('pgqfs.name'), hashtext('default/dl.sql'));
SELECT pg_sleep(0.5) AS slept \gset
COMMIT;
SQL
dlpid=$!
dl_held() {
	[ -n "$(ctl "SELECT 1 FROM pg_stat_activity WHERE state = 'active'
		AND query LIKE 'SELECT pg_sleep(1)%'")" ]
}
wait_until 10 dl_held || t_fail "the session does not hold dl.sql's row"
printf -- '-- pgqfs: every=2h\nSELECT 1;\n' >"$W/dl.sql"
chmod 644 "$W/dl.sql"
t_ok "nobody's write of dl.sql meets the deadlock and goes through" \
	runuser -u nobody -- cp "$W/dl.sql" "$A/default/dl.sql"
wait "$dlpid"
t_is "$(cat "$W/dl.out")" $'row\nname' "the session got the row, then the name (the daemon's statement gave way)"
t_is "$(ctl "SELECT every_ms FROM pgqfs.schedule WHERE name = 'dl.sql'")" 7200000 "the new schedule is stored"
t_like "$(cat "${PGQFS_LOG[a]}")" 'deadlock detected; the statement is tried again' \
	"the daemon's log says it tried again"
t_ok "nobody removes dl.sql" runuser -u nobody -- rm "$A/default/dl.sql"

# ---- a schedule's name is its owner's in its pool: another user can
# neither submit it (the pending name would hold the runs off) nor write a
# schedule over another user's pending task of its name.  Root can.
Q=$(mnt a)/queue
t_like "$(runuser -u nobody -- cp "$W/hourly.sql" "$Q/default/roots.sql" 2>&1)" \
	'Operation not permitted' "another user cannot submit a schedule's name to its pool (EPERM)"
t_like "$(cat "$E2E_TMP/a.log")" "refused default/roots.sql .uid 65534.: .*another user's schedule in this pool" \
	"the log says why"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = 'roots.sql'")" 0 "nothing is queued"
t_ok "root submits another user's schedule name" cp "$W/hourly.sql" "$Q/default/nobodys.sql"
ctl "UPDATE pgqfs.task SET state = 'cancelled' WHERE name = 'nobodys.sql'" >/dev/null
printf -- '-- pgqfs: not_before=+1h\nSELECT 1;\n' >"$W/later.sql"
chmod 644 "$W/later.sql"
t_ok "nobody queues later.sql for an hour from now" \
	runuser -u nobody -- cp "$W/later.sql" "$Q/default/later.sql"
t_like "$(runuser -u daemon -- cp "$W/hourly.sql" "$B/default/later.sql" 2>&1)" \
	'Device or resource busy' "another user cannot write a schedule of that name (EBUSY)"
t_like "$(cat "$E2E_TMP/b.log")" "refused schedules/default/later.sql .uid 1.: another user's task of that name is pending" \
	"the log says why"
t_is "$(ctl "SELECT count(*) FROM pgqfs.schedule WHERE name = 'later.sql'")" 0 "no schedule is stored"
t_ok "nobody may" runuser -u nobody -- cp "$W/hourly.sql" "$B/default/later.sql"
t_ok "root removes it and the pending task" rm "$B/default/later.sql" "$Q/default/later.sql"
# A retry queues the name again: refused the same way.
runuser -u nobody -- cp "$W/later.sql" "$Q/default/held.sql" || t_fail "nobody's cp of held.sql"
held=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'held.sql'")
runuser -u nobody -- rm "$Q/default/held.sql" || t_fail "nobody's rm (cancel) of held.sql"
t_ok "root writes a schedule held.sql" cp "$W/hourly.sql" "$A/default/held.sql"
t_like "$(runuser -u nobody -- bash -c 'printf 1 >"$1"' retry "$(mnt a)/tasks/$held/retry" 2>&1)" \
	'Operation not permitted' "nobody cannot retry its cancelled held.sql into the schedule's name (EPERM)"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $held")" cancelled "it stays cancelled"
rm "$A/default/held.sql"
# nobody_running NAME RETRIES: nobody's NAME (3 s, retries=RETRIES) runs.
nobody_running() {
	local id
	printf -- '-- pgqfs: retries=%s\nSELECT pg_sleep(3);\n' "$2" >"$W/$1"
	chmod 644 "$W/$1"
	runuser -u nobody -- cp "$W/$1" "$Q/default/$1" || t_fail "nobody's cp of $1"
	id=$(ctl "SELECT id FROM pgqfs.task WHERE name = '$1'")
	running() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE id = $id")" = running ]; }
	wait_until 10 running || t_fail "$1 did not start"
}
# A running task of the name may be queued again (a failed attempt with
# retries left): a schedule is not written over it either.
nobody_running busy.sql 2
t_like "$(runuser -u daemon -- cp "$W/hourly.sql" "$B/default/busy.sql" 2>&1)" \
	'Device or resource busy' "another user cannot write a schedule over a running task of its name (EBUSY)"
# Without retries left, a running task never takes its name again.
nobody_running once.sql 0
t_ok "but may over one without retries left" runuser -u daemon -- cp "$W/hourly.sql" "$B/default/once.sql"
rm "$B/default/once.sql"
t_ok "root removes both" rm "$A/default/nobodys.sql" "$B/default/roots.sql"

# ---- overlap: a tick is skipped while the last run runs
printf -- '-- pgqfs: every=1s\nSELECT pg_sleep(2.5);\n' >"$W/slow.sql"
cp "$W/slow.sql" "$A/fast/slow.sql"
sleep 6.5
rm "$A/fast/slow.sql"
last=$(ctl "SELECT max(id) FROM pgqfs.task WHERE schedule = 'fast/slow.sql'")
t_is "$(task_wait "$last" 20)" done "rm does not cancel the run submitted before it"
n=$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'fast/slow.sql'")
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then
	t_pass "a run of 2.5 s every 1 s ran $n times in 6.5 s (ticks skipped while it ran)"
else
	t_fail "a run of 2.5 s every 1 s ran $n times in 6.5 s (want 1 to 3)"
fi
t_is "$(ctl "SELECT count(*) FROM pgqfs.task a JOIN pgqfs.task b ON a.schedule = b.schedule
	AND a.id < b.id AND b.submitted_at < coalesce(a.finished_at, 'infinity')
	WHERE a.schedule = 'fast/slow.sql'")" 0 "no run was submitted before the last one ended"
if grep -q 'schedule fast/slow.sql: tick skipped' "$E2E_TMP/a.log" "$E2E_TMP/b.log"; then
	t_pass "a skipped tick is logged"
else
	t_fail "a skipped tick is logged"
fi

# ---- listed names keep their inodes while the listing is open: a plain
# READDIR (a small getdents buffer past readdirplus's first reply) gives
# each its own, the one stat gives (before, names new to the table all
# took the same idle slot).
for i in $(seq 30); do cp "$W/hourly.sql" "$A/default/ls$i.sql"; done
t_is "$(python3 - "$B/default" 2>&1 <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
buf, inos = ctypes.create_string_buffer(1024), {}
while True:
    n = libc.syscall(217, fd, buf, 1024)	# getdents64
    if n <= 0:
        break
    off = 0
    while off < n:
        ino, _, reclen = struct.unpack_from("QqH", buf.raw, off)
        name = buf.raw[off + 19:off + reclen].split(b"\0")[0].decode()
        if name.startswith("ls"):
            inos[name] = ino
        off += reclen
os.close(fd)
same = sum(os.stat(os.path.join(sys.argv[1], k)).st_ino == v for k, v in inos.items())
print(len(inos), len(set(inos.values())), same)
PY
)" "30 30 30" "30 names new to mount b, listed there: 30 inode numbers, each the one stat gives"
rm "$A"/default/ls*.sql

# ---- a restart: schedules stay; a tick missed while no daemon ran is not made up
cp "$W/hourly.sql" "$A/default/missed.sql"
pgqfs_stop b
pgqfs_stop a
ctl "UPDATE pgqfs.schedule SET next_at = clock_timestamp() - interval '2 hours',
	changed_at = clock_timestamp() - interval '3 hours' WHERE name = 'missed.sql'"
pgqfs_start a -o allow_other || t_bail "daemon a did not start again"
t_is "$(ls "$A/default")" missed.sql "a schedule is listed after a restart"
t_cmp "$A/default/missed.sql" "$W/hourly.sql" "and reads back"
moved_on() {
	[ "$(ctl "SELECT next_at > clock_timestamp() FROM pgqfs.schedule WHERE name = 'missed.sql'")" = t ]
}
if wait_until 5 moved_on; then
	t_pass "a tick missed while no daemon ran moves the schedule on"
else
	t_fail "a tick missed while no daemon ran moves the schedule on"
fi
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/missed.sql'")" 0 \
	"and is not made up"
t_is "$(ctl "SELECT next_at <= clock_timestamp() + interval '1 hour' FROM pgqfs.schedule
	WHERE name = 'missed.sql'")" t "its next tick is the next one after now"
t_like "$(cat "$E2E_TMP/a.log")" 'schedule default/missed.sql: a tick was missed' "the log says so"
rm "$A/default/missed.sql"

# ---- a schedule this host cannot compute (a tz its database lacks, as
# another host's could have): one warning, no spinning, the others go on
ctl "INSERT INTO pgqfs.schedule (pool, name, uid, gid, query, cron, tz, next_at)
	VALUES ('default', 'elsewhere.sql', 0, 0, 'SELECT 1', '* * * * *', 'Nowhere/Zone',
	        clock_timestamp() - interval '1 second');
	SELECT pg_notify('pgqfs_queue', '.schedules')" >/dev/null
printf -- '-- pgqfs: every=1s\nSELECT 1;\n' >"$W/beside.sql"
cp "$W/beside.sql" "$A/fast/beside.sql"
sleep 3
rm "$A/fast/beside.sql"
t_is "$(grep -c 'schedule default/elsewhere.sql: cannot compute its next tick here' "$E2E_TMP/a.log")" 1 \
	"a schedule this host cannot compute is warned about once"
n=$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'fast/beside.sql'")
if [ "$n" -ge 2 ]; then
	t_pass "the others fire beside it ($n runs in 3 s)"
else
	t_fail "the others fire beside it ($n runs in 3 s)"
fi
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/elsewhere.sql'")" 0 \
	"and it does not fire"
ctl "DELETE FROM pgqfs.schedule WHERE name = 'elsewhere.sql'"

# ---- a first tick that, by the server's clock, came before the write: a
# daemon whose clock is 2 s behind the server's wrote it (its row is made
# so here).  That tick is not fired (it fired before the rewrite, or would
# have); the row moves on to the next tick.
printf -- '-- pgqfs: every=1h\nINSERT INTO ticks DEFAULT VALUES;\n' >"$W/skew.sql"
cp "$W/skew.sql" "$A/default/skew.sql" || t_fail "cp of the schedule skew.sql"
ctl "UPDATE pgqfs.schedule SET next_at = changed_at - interval '2 seconds'
	WHERE name = 'skew.sql';
	SELECT pg_notify('pgqfs_queue', '.schedules')" >/dev/null
moved() {
	[ "$(ctl "SELECT next_at > clock_timestamp() FROM pgqfs.schedule
		WHERE name = 'skew.sql'")" = t ]
}
t_ok "the tick before the write is taken: the row moves on" wait_until 15 moved
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE schedule = 'default/skew.sql'")" 0 \
	"and nothing was submitted for it"
t_like "$(cat "$E2E_TMP/a.log")" 'schedule default/skew.sql: tick not fired: it had gone by when the schedule was written' \
	"the log says why"
rm "$A/default/skew.sql"

# ---- the first tick by the control database's clock: a daemon whose
# clock is 25 s ahead (libfaketime, on the build without ASan) writes an
# every=10s schedule.  Its first tick is the first after the write by the
# server's clock, not by its own (two ticks were missed before).
faketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ -x "${PGQFS_PLAIN:-}" ] && [ -f "$faketime" ]; then
	LD_PRELOAD=$faketime FAKETIME=+25s FAKETIME_DONT_FAKE_MONOTONIC=1 PGQFS=$PGQFS_PLAIN \
		pgqfs_start ahead || t_bail "the daemon with its clock ahead did not start"
	printf -- '-- pgqfs: every=10s\nSELECT 1;\n' >"$W/ahead.sql"
	cp "$W/ahead.sql" "$(mnt ahead)/schedules/default/ahead.sql" ||
		t_fail "cp of a schedule through the daemon ahead"
	t_is "$(ctl "SELECT next_at > changed_at AND next_at <= changed_at + interval '10 s'
		FROM pgqfs.schedule WHERE name = 'ahead.sql'")" t \
		"its first tick is within 10 s of the write by the server's clock"
	rm "$(mnt ahead)/schedules/default/ahead.sql"
	pgqfs_stop ahead
else
	t_skip "a daemon's clock ahead" "needs PGQFS_PLAIN and libfaketime"
fi

# ---- names created and removed do not grow the daemon's table of names
# (an inode number indexes it): a slot the kernel has forgotten goes to the
# next new name.  Before, every name ever created kept its slot until
# unmount, and the 40th churned name got an index past 40.
ls -l "$A/default" >/dev/null
for i in $(seq 40); do
	cp "$W/hourly.sql" "$A/default/churn$i.sql" && rm "$A/default/churn$i.sql" ||
		t_fail "cp and rm of schedule churn$i.sql"
done
sync
echo 2 >/proc/sys/vm/drop_caches
cp "$W/hourly.sql" "$A/default/last.sql"
idx=$(( $(stat -c %i "$A/default/last.sql") % 4294967296 ))
t_ok "a name created after 40 created and removed takes a slot they freed (index $idx)" \
	test "$idx" -lt 20
t_cmp "$A/default/last.sql" "$W/hourly.sql" "and reads back as written"
t_like "$(ls -l "$A/default")" 'last.sql' "and is listed"
rm "$A/default/last.sql"
pgqfs_stop a
t_done
