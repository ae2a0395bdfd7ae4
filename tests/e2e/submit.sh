#!/usr/bin/env bash
# Submission rules of DESIGN.md "Submitting": what runs, what is refused
# (with which errno and a log line), and that nothing refused is queued.
. "$SRCDIR/e2e/lib.sh"

# A small max_task_bytes, to test EFBIG without writing 16 MiB.
pgqfs_config() {
	pgqfs_default_config "$@" | sed 's/^max_task_bytes = .*/max_task_bytes = 16KiB/'
	printf '\n[pool one]\ntarget = main\nmax_workers = 1\n'
	# One connection: consecutive tasks run in the same session.
	printf '\n[target solo]\nconninfo = %s\nmax_workers = 1\n' "$PGQFS_TARGET"
	printf '\n[pool solo]\ntarget = solo\n'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
Q=$MNT/queue
W=$E2E_TMP/work
mkdir -p "$W"
LOG=${PGQFS_LOG[main]}

# stats_value KEY: a figure of the stats file.
stats_value() {
	awk -v k="$1" '$1 == k { print $2 }' "$MNT/stats"
}

# errno_of CMD...: the strerror text the command printed (last line).
cp_error() {
	cp -- "$@" 2>&1 >/dev/null | tail -n 1
}

# -- a plain submission with a reserved id ---------------------------------
printf 'SELECT 1 AS one, %s AS two;\n' "'a,b'" >"$W/plain.sql"
id=$(new_id)
t_like "$id" '^[0-9]+$' "new-id returns a number"
t_ok "cp into queue/default succeeds" submit default "$W/plain.sql" "$id.sql"
t_is "$(task_wait "$id")" done "the task with the reserved id ran (wait says done)"
psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f "$W/plain.sql" >"$W/plain.want"
t_cmp "$W/plain.want" "$MNT/done/$id/result" "its result is what psql prints"
t_cmp "$W/plain.sql" "$MNT/tasks/$id/query.sql" "query.sql is the file as submitted"
t_is "$(stat -c %s "$MNT/done/$id/result")" "$(wc -c <"$MNT/done/$id/result")" \
	"result's size in stat is its true size"
t_is "$(stat -c %s "$MNT/done/$id/info")" "$(wc -c <"$MNT/done/$id/info")" \
	"info's size in stat is its true size"
t_file_is "$MNT/tasks/$id/state" $'done\n' "state is 'done' and a newline"
t_ok "done/ID has no error file" test ! -e "$MNT/done/$id/error"
info=$(cat "$MNT/tasks/$id/info")
for key in id name pool target state submitted_uid submitted_at started_at finished_at \
	duration_ms rows attempt backend_pid daemon; do
	t_like "$info" "(^|$'\n')$key=" "info has $key"
done
t_like "$info" "(^|$'\n')id=$id($'\n'|$)" "info: id=$id"
t_like "$info" $'\nrows=1\n' "info: rows=1"
t_like "$info" $'\npool=default\n' "info: pool=default"

# A task that ends before its start is stored still records where it ran:
# the backend reports its own pid, which info must name.
printf 'SELECT pg_backend_pid();\n' >"$W/pid.sql"
pid_id=$(new_id)
submit default "$W/pid.sql" "$pid_id.sql"
t_is "$(task_wait "$pid_id")" done "a pg_backend_pid() task ran"
t_is "$(grep '^backend_pid=' "$MNT/tasks/$pid_id/info")" \
	"backend_pid=$(tail -n 1 "$MNT/done/$pid_id/result")" "info: backend_pid is the backend that ran it"
ts=$(awk -F= '/^(submitted|started|finished)_at=/ { print $2 }' "$MNT/tasks/$pid_id/info")
t_is "$(printf '%s\n' "$ts" | sort | tr '\n' ' ')" "$(printf '%s\n' "$ts" | tr '\n' ' ')" \
	"info: submitted_at <= started_at <= finished_at"
t_like "$(cat "$MNT/tasks/$id/log")" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z submitted .*'$'\n''[0-9T:.Z-]+ started on target main, backend pid [0-9]+.*'$'\n''[0-9T:.Z-]+ finished: done' \
	"log: submitted, started (target, pid), finished, ISO-8601 UTC stamps"
t_ok "secrets are not shown: no conninfo in info or log" \
	bash -c "! grep -rqs -e 'host=' -e 'port=' '$MNT/tasks/$id/info' '$MNT/tasks/$id/log'"

# -- a repeated cp of the same name makes a new task --------------------------
echo "SELECT 'again';" >"$W/again.sql"
submit default "$W/again.sql"
wait_until 10 bash -c "[ \$(grep -l '^name=again.sql$' $MNT/done/*/info 2>/dev/null | wc -l) -ge 1 ]"
t_ok "second cp of a name whose task ran succeeds" submit default "$W/again.sql"
t_ok "and it makes a second task" wait_until 10 bash -c \
	"[ \$(grep -l '^name=again.sql$' $MNT/done/*/info 2>/dev/null | wc -l) -eq 2 ]"

# -- shell redirection and tee ------------------------------------------------
echo "SELECT 'redirected';" >"$Q/default/redirect.sql"
echo "SELECT 'teed';" | tee "$Q/default/tee.sql" >/dev/null
t_ok "a file written with > runs" wait_until 10 bash -c \
	"grep -qx redirected $MNT/done/*/result 2>/dev/null"
t_ok "a file written with tee runs" wait_until 10 bash -c "grep -qx teed $MNT/done/*/result 2>/dev/null"

# -- a pending name: EBUSY, listed, readable, rm cancels ---------------------
echo "SELECT pg_sleep(3);" >"$W/block.sql"
echo "SELECT 'first';" >"$W/dup.sql"
echo "SELECT 'second';" >"$W/dup2.sql"
submit one "$W/block.sql"
wait_until 10 bash -c "[ -n \"\$(ls $MNT/running)\" ]"
t_ok "a task is pending behind a running one" submit one "$W/dup.sql"
t_is "$(cp_error "$W/dup2.sql" "$Q/one/dup.sql")" \
	"cp: cannot create regular file '$Q/one/dup.sql': Device or resource busy" \
	"cp over a pending name fails with EBUSY"
t_cmp "$W/dup.sql" "$Q/one/dup.sql" "the pending task is untouched and reads back its SQL"
t_is "$(ls "$Q/one")" "dup.sql" "queue/one lists the pending task"
t_is "$(stat -c %s "$Q/one/dup.sql")" "$(wc -c <"$W/dup.sql")" "the pending entry has its size"
t_ok "rm of a pending task succeeds" rm "$Q/one/dup.sql"
t_is "$(ls "$Q/one")" "" "the name left the queue"
cancelled=$(grep -l '^name=dup.sql$' "$MNT"/failed/*/info | head -n 1)
cancelled=${cancelled%/info}
t_file_is "$cancelled/state" $'cancelled\n' "the cancelled task is in failed/ with state cancelled"
t_like "$(cat "$cancelled/error")" 'cancelled' "its error says it was cancelled"
t_like "$(grep -c . "$LOG")" '^[0-9]+$' "daemon log readable"
t_ok "EBUSY was logged" grep -q 'refused.*dup.sql.*pending' "$LOG"

# An id whose name ID.sql is already pending (a file given that name
# without a reservation) is skipped by new-id: the reserver's cp is never
# refused by someone else's file.
echo "SELECT pg_sleep(2);" >"$W/block2.sql"
submit one "$W/block2.sql"
x=$(new_id)
submit one "$W/dup.sql" "$((x + 2)).sql"	# becomes task x+1, pending
y=$(new_id)
t_is "$y" "$((x + 3))" "new-id skips the id whose name is pending"
t_is "$(cp_error "$W/dup2.sql" "$Q/one/$y.sql")" "" "cp to the id it hands out succeeds"
rm -f "$Q/one/$y.sql"

# cp, rm (a cancel), cp again of one name, fast, while the pool is busy:
# every cp makes a pending task, every rm cancels it.
echo "SELECT pg_sleep(2);" >"$W/block3.sql"
submit one "$W/block3.sql"
bad=0
for i in $(seq 20); do
	cp "$W/dup.sql" "$Q/one/again.sql" 2>>"$W/again.err" || bad=$((bad + 1))
	rm "$Q/one/again.sql" 2>>"$W/again.err" || bad=$((bad + 1))
done
t_is "$bad" 0 "cp, rm, cp again of one name: 20 rounds without an error"
t_is "$(grep -l '^name=again.sql$' "$MNT"/failed/*/info 2>/dev/null | wc -l)" 20 \
	"each round made a task, and each was cancelled"

# mv of a pending task: EXDEV makes mv copy it and remove the old name, so
# the SQL is pending under the new name (in the same or another pool) and
# the old task is cancelled.
echo "SELECT pg_sleep(2);" >"$W/block4.sql"
submit one "$W/block4.sql"
echo "SELECT 'moved' AS m;" >"$W/move.sql"
submit one "$W/move.sql" "from.sql"
t_ok "mv of a pending task to another name succeeds" mv "$Q/one/from.sql" "$Q/one/to.sql"
t_cmp "$W/move.sql" "$Q/one/to.sql" "the new name is pending with the same SQL"
t_ok "the old name is gone" test ! -e "$Q/one/from.sql"
t_is "$(cat "$(dirname "$(grep -l '^name=from.sql$' "$MNT"/failed/*/info)")/state")" cancelled \
	"the old task is cancelled"
t_ok "mv to another pool succeeds" mv "$Q/one/to.sql" "$Q/default/moved.sql"
t_ok "and the task runs there" wait_until 10 bash -c "grep -qx moved $MNT/done/*/result 2>/dev/null"
t_ok "the rename's EXDEV is logged" grep -q 'refused.*from.sql.*cannot be renamed' "$LOG"

# install(1) sets the mode after closing the file, when it is a pending
# task already: accepted, to no effect; changing its size is refused.
echo "SELECT pg_sleep(2);" >"$W/block5.sql"
submit one "$W/block5.sql"
echo "SELECT 'installed' AS how;" >"$W/inst.sql"
t_ok "install -m 644 into the queue succeeds" install -m 644 "$W/inst.sql" "$Q/one/inst.sql"
t_like "$(truncate -s 0 "$Q/one/inst.sql" 2>&1)" 'Device or resource busy' \
	"truncating a pending task: EBUSY"
t_cmp "$W/inst.sql" "$Q/one/inst.sql" "the pending task still holds its SQL"
t_ok "and it runs" wait_until 15 bash -c "grep -qx installed $MNT/done/*/result 2>/dev/null"
t_like "$(touch "$MNT/done/$id/result" 2>&1)" 'Read-only file system' "touch of a finished task's file: EROFS"

# -- two writers of one name ---------------------------------------------------
exec 3>"$Q/default/twowriters.sql"
echo "SELECT 'first writer';" >&3
t_like "$(cp_error "$W/dup2.sql" "$Q/default/twowriters.sql")" 'Device or resource busy' \
	"a second writer of a file being written gets EBUSY"
exec 3>&-
t_ok "the first writer's task runs" wait_until 10 bash -c \
	"grep -qx 'first writer' $MNT/done/*/result 2>/dev/null"

# -- staging files and rename ---------------------------------------------------
echo "SELECT 'staged then renamed';" >"$Q/default/.rsync.tmp"
sleep 0.3
t_is "$(ls -a "$Q/default" | grep -c rsync)" 1 "a dot file stays listed and is not run"
t_ok "mv of a staging file to NAME.sql succeeds" mv "$Q/default/.rsync.tmp" "$Q/default/renamed.sql"
t_ok "the renamed file runs" wait_until 10 bash -c \
	"grep -qx 'staged then renamed' $MNT/done/*/result 2>/dev/null"
echo "SELECT 1;" >"$Q/default/.editor.swp"
t_ok "a dot file can be removed" rm "$Q/default/.editor.swp"

# -- refused names and operations ----------------------------------------------
before=$(stats_value queued)$(stats_value done)
t_is "$(cp_error "$W/plain.sql" "$Q/default/plain.txt")" \
	"cp: cannot create regular file '$Q/default/plain.txt': Invalid argument" "a name not ending in .sql: EINVAL"
badname=$(printf 'bad\377name.sql')
t_like "$(cp_error "$W/plain.sql" "$Q/default/$badname")" 'cannot create regular file.*Invalid argument' \
	"a name that is not UTF-8: EINVAL"
# Bytes of UTF-8's shape that the server refuses as text: an overlong
# form, a surrogate, a code point past U+10FFFF.
for bad in '\xe0\x80\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80'; do
	t_like "$(cp_error "$W/plain.sql" "$Q/default/$(printf "u${bad}.sql")")" \
		'cannot create regular file.*Invalid argument' "a name with $bad, not UTF-8 to the server: EINVAL"
done
t_like "$(cp_error "$W/plain.sql" "$Q/default/$(printf 'tab\tname.sql')")" 'cannot create regular file.*Invalid argument' \
	"a name with a control character: EINVAL"
t_is "$(cp_error "$W/plain.sql" "$Q/default/.sql")" "" "'.sql' alone is a staging name (dot file)"
rm -f "$Q/default/.sql"
t_like "$(mkdir "$Q/default/dir" 2>&1)" 'Operation not permitted' "mkdir in a pool: EPERM"
t_like "$(ln -s /etc/passwd "$Q/default/link.sql" 2>&1)" 'Operation not permitted' "symlink: EPERM"
echo "SELECT 1;" >"$Q/default/.hard"
t_like "$(ln "$Q/default/.hard" "$Q/default/hard.sql" 2>&1)" 'Operation not permitted' "hard link: EPERM"
rm -f "$Q/default/.hard"
t_like "$(cp_error "$W/plain.sql" "$MNT/x.sql")" 'Read-only file system' "writing at the root: EROFS"
t_like "$(cp_error "$W/plain.sql" "$MNT/done/x.sql")" 'Read-only file system' "writing in done/: EROFS"
t_like "$(cp_error "$W/plain.sql" "$Q/nopool/x.sql")" 'No such file or directory' "an unknown pool: ENOENT"
t_like "$(rm "$MNT/done/$id/result" 2>&1)" 'Read-only file system' "rm of a result: EROFS"
t_like "$(sh -c "echo x >> '$MNT/done/$id/result'" 2>&1)" 'Read-only file system|Permission denied' \
	"appending to a result fails"
: >"$Q/default/empty.sql"
t_is "$(ls "$Q/default" | grep -c empty)" 0 "an empty file leaves no entry"
head -c 20000 /dev/zero | tr '\0' ' ' >"$W/big.sql"
echo "SELECT 'big';" >>"$W/big.sql"
t_like "$(cp_error "$W/big.sql" "$Q/default/big.sql")" 'File too large' \
	"a file larger than max_task_bytes: EFBIG"
t_is "$(ls "$Q/default" | grep -c big)" 0 "and no entry is left"
t_like "$(perl -e 'open(my $f, ">", $ARGV[0]) or die "open: $!\n";
	print $f "SELECT 1;\n"; $f->flush;
	truncate($f, 20000) or print "truncate: $!\n"; close($f);' "$Q/default/trunc.sql" 2>&1)" \
	'^truncate: File too large' "growing a file past max_task_bytes with truncate: EFBIG"
t_is "$(ls "$Q/default" | grep -c trunc)" 0 "and what it held before is not queued either"
# The same with a group, stored (fsync) with its members first: none of
# them is left staged, for a restart to queue.
t_like "$(perl -MIO::Handle -e 'open(my $f, ">", $ARGV[0]) or die "open: $!\n";
	print $f "-- pgqfs: group=statements\nSELECT 1 AS a;\nSELECT 2 AS b;\n";
	$f->flush; $f->sync or print "sync: $!\n";
	truncate($f, 20000) or print "truncate: $!\n"; close($f);' "$Q/default/gtrunc.sql" 2>&1)" \
	'^truncate: File too large' "a group grown past max_task_bytes after an fsync: EFBIG"
t_is "$(psql_ref -d pgqfs_ctl -tAXc "SELECT count(*) FROM pgqfs.task
	WHERE name LIKE 'gtrunc.sql%'")" 0 "neither the group nor its members stay stored"
sleep 0.3
t_is "$(stats_value queued)$(stats_value done)" "$before" "nothing refused was queued"
t_ok "refusals are logged with a reason" grep -q 'refused.*plain.txt.*Invalid argument' "$LOG"
t_ok "EFBIG is logged" grep -q 'refused.*big.sql.*max_task_bytes' "$LOG"

# -- execution details -----------------------------------------------------------
cat >"$W/app.sql" <<'SQL'
SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid();
SQL
id=$(new_id); submit default "$W/app.sql" "$id.sql"; task_wait "$id" >/dev/null
# A task's files are read-only, and the log line of a refused write names
# the file, not an inode number.
t_like "$(bash -c "echo x >'$MNT/tasks/$id/result'" 2>&1)" 'Read-only file system' \
	"writing a task's result: EROFS"
t_ok "the log names tasks/$id/result" wait_until 2 grep -q \
	"refused open for writing of tasks/$id/result (uid $(id -u)): it is read-only" "$E2E_TMP/main.log"
t_file_is "$MNT/done/$id/result" $'application_name\npgqfs task '"$id"$'\n' \
	"application_name names pgqfs and the task id"

# Session state does not leak from one task to the next (target solo: one
# connection, so the second task runs in the first one's session).
cat >"$W/dirty.sql" <<'SQL'
CREATE TABLE IF NOT EXISTS committed (x int);
CREATE TEMP TABLE leak (x int);
SET search_path = nowhere, public;
BEGIN;
INSERT INTO committed VALUES (1);
SQL
cat >"$W/clean.sql" <<'SQL'
SELECT current_setting('search_path') AS sp,
       (SELECT count(*) FROM pg_class WHERE relname = 'leak') AS temp_tables,
       (SELECT count(*) FROM committed) AS rows_left_open;
SQL
id=$(new_id); submit solo "$W/dirty.sql" "$id.sql"
t_is "$(task_wait "$id")" done "a task ending inside an open transaction is done"
id2=$(new_id); submit solo "$W/clean.sql" "$id2.sql"; task_wait "$id2" >/dev/null
t_is "$(grep '^backend_pid=' "$MNT/tasks/$id2/info")" "$(grep '^backend_pid=' "$MNT/tasks/$id/info")" \
	"the two tasks ran on the same backend"
t_file_is "$MNT/done/$id2/result" $'sp,temp_tables,rows_left_open\n"""$user"", public",0,0\n' \
	"the next task on the connection sees a reset session and a rolled-back transaction"

# The same for a task of one plain statement, which goes in pipeline mode
# with its reset (src/pipe.c): a session lock and a setting taken by it
# are gone for the next task.
cat >"$W/dirty1.sql" <<'SQL'
SELECT pg_advisory_lock(4711) IS NOT NULL AS locked,
       set_config('search_path', 'nowhere, public', false) AS sp;
SQL
cat >"$W/clean1.sql" <<'SQL'
SELECT current_setting('search_path') AS sp,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4711) AS locks;
SQL
id=$(new_id); submit solo "$W/dirty1.sql" "$id.sql"
t_is "$(task_wait "$id")" done "a one-statement task that takes a session lock is done"
t_file_is "$MNT/done/$id/result" $'locked,sp\nt,"nowhere, public"\n' "its result"
id2=$(new_id); submit solo "$W/clean1.sql" "$id2.sql"; task_wait "$id2" >/dev/null
t_is "$(grep '^backend_pid=' "$MNT/tasks/$id2/info")" "$(grep '^backend_pid=' "$MNT/tasks/$id/info")" \
	"the two one-statement tasks ran on the same backend"
t_file_is "$MNT/done/$id2/result" $'sp,locks\n"""$user"", public",0\n' \
	"the next task sees the lock released and the setting reset"

# A statement timeout a task sets is armed for the reset too: past it
# while DISCARD ALL drops many temporary tables, the server cancels the
# next statement on the session, which must not be the next task's.
{
	for i in $(seq 40); do echo "CREATE TEMP TABLE tt$i (x int PRIMARY KEY, y text);"; done
	echo "SET statement_timeout = '1ms';"
} >"$W/timeout-left.sql"
printf "SELECT 'clean' AS a;\nSELECT 2 AS b;\n" >"$W/after-timeout.sql"
for k in 1 2 3; do
	id=$(new_id); submit solo "$W/timeout-left.sql" "$id.sql"
	t_is "$(task_wait "$id")" done "a task that leaves a 1 ms statement_timeout and 40 temporary tables is done ($k)"
	id2=$(new_id); submit solo "$W/after-timeout.sql" "$id2.sql"
	t_is "$(task_wait "$id2")" done "the next task on the connection is not cancelled by it ($k)"
done

# A lone statement's error at its commit (a deferred constraint): in a
# pipeline it comes after the statement's rows, which psql never prints.
id=$(new_id)
printf 'CREATE TABLE IF NOT EXISTS deferred_u (a int UNIQUE DEFERRABLE INITIALLY DEFERRED);\nSELECT 1 AS made;\n' >"$W/mk.sql"
submit default "$W/mk.sql" "$id.sql"
t_is "$(task_wait "$id")" done "a table with a deferred constraint is made"
printf 'WITH i AS (INSERT INTO deferred_u VALUES (1), (1) RETURNING a) SELECT a FROM i;\n' >"$W/query.sql"
(cd "$W" && psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f query.sql >"$W/deferred.out" 2>"$W/deferred.err")
t_is "$?" 3 "(under psql the statement fails)"
t_is "$(wc -c <"$W/deferred.out")" 0 "psql prints no row of a statement whose commit failed"
id=$(new_id); submit default "$W/query.sql" "$id.sql"
t_is "$(task_wait "$id")" failed "a one-statement task whose commit fails has failed"
t_file_is "$MNT/failed/$id/result" "" "with no row in its result, as psql"
t_is "$(sed '/^SQLSTATE: /d' "$MNT/failed/$id/error")" "$(cat "$W/deferred.err")" "its error is psql's"
t_like "$(cat "$MNT/failed/$id/error")" $'\nSQLSTATE: 23505$' "its SQLSTATE is the unique violation's"
t_is "$(psql_ref -qAt -d app -c 'SELECT count(*) FROM deferred_u')" 0 "nothing of it was committed"

printf 'SELECT 1;\n\\set x 1\nSELECT 2;\n' >"$W/meta.sql"
id=$(new_id); submit default "$W/meta.sql" "$id.sql"
t_is "$(task_wait "$id")" failed "a psql meta-command fails the task"
t_like "$(cat "$MNT/failed/$id/error")" ':2: .*meta-command.*\\set' "its error names the line and the command"
t_file_is "$MNT/failed/$id/result" $'?column?\n1\n' "statements before it ran"

printf 'CREATE TEMP TABLE c (x int);\nCOPY c FROM STDIN;\n' >"$W/copyin.sql"
id=$(new_id); submit default "$W/copyin.sql" "$id.sql"
t_is "$(task_wait "$id")" failed "COPY FROM STDIN fails the task"
t_like "$(cat "$MNT/failed/$id/error")" 'COPY from stdin failed: pgqfs tasks have no input' \
	"with a clear error"
t_like "$(cat "$MNT/failed/$id/error")" $'\nSQLSTATE: [0-9A-Z]{5}$' "ending in a SQLSTATE line"

printf 'DO $$ BEGIN RAISE NOTICE %s; RAISE WARNING %s; END $$;\n' "'hello notice'" "'careful'" >"$W/notice.sql"
id=$(new_id); submit default "$W/notice.sql" "$id.sql"; task_wait "$id" >/dev/null
t_like "$(cat "$MNT/done/$id/log")" 'NOTICE:  hello notice' "a NOTICE goes to the log"
t_like "$(cat "$MNT/done/$id/log")" 'WARNING:  careful' "a WARNING goes to the log"
t_file_is "$MNT/done/$id/result" "" "a statement without rows prints nothing"

# Done, failed and cancelled tasks of several pools by now, and pools
# without any task: stats lists them all, with the database's counts.
t_ok "nothing is pending or running" wait_until 10 bash -c \
	"[ \"\$(awk '\$1 == \"queued\" || \$1 == \"running\" { s += \$2 } END { print s }' '$MNT/stats')\" = 0 ]"
t_stats_match "stats counts what the control database holds, for every pool"
t_like "$(cat "$MNT/stats")" $'\npool.fast.done 0\n' "a configured pool without tasks has its keys"
t_is "$(stat -c %s "$MNT/stats")" "$(wc -c <"$MNT/stats")" "stats's size in stat is its true size"
t_done
