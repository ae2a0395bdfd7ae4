#!/usr/bin/env bash
# A reserved id is an idempotency key (DESIGN.md, Submitting): "<n>.sql",
# n handed out by new-id, belongs to the user who reserved it in every pool
# (EACCES for anyone else, at open and, authoritatively, when the content is
# stored); while its task is pending a second write gets EBUSY, after it has
# left the queue EEXIST, and nothing is created: the task runs exactly once.
# A numeric name never handed out is an ordinary name.  cancel() checks the
# submitter in SQL.
. "$SRCDIR/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { t_skip "ids" "needs root to act as two users"; t_done; }
id nobody >/dev/null 2>&1 || { t_skip "ids" "no user nobody"; t_done; }

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool slow]\ntarget = main\nmax_workers = 1\n'
}
as_nobody() { runuser -u nobody -- "$@"; }
ctl() { psql_ref -d pgqfs_ctl -tAqc "$1"; }
# errno_of CMD...: the errno name of a python statement's OSError, or ok.
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
psql_ref -d app -qc "CREATE TABLE hits (id serial, what text); GRANT ALL ON hits, hits_id_seq TO PUBLIC" ||
	t_bail "cannot create the target table"
pgqfs_start main -o allow_other || t_bail "daemon did not start"
chmod 755 "$E2E_TMP"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$W"
echo "INSERT INTO hits (what) VALUES ('once');" >"$W/once.sql"
echo "SELECT pg_sleep(3);" >"$W/block.sql"
echo "INSERT INTO hits (what) VALUES ('squat');" >"$W/squat.sql"
chmod 644 "$W"/*.sql
Q=$MNT/queue

# ---- squatting
id=$(new_id)
t_like "$(as_nobody cp "$W/squat.sql" "$Q/default/$id.sql" 2>&1)" 'Permission denied' \
	"another user's cp to root's reserved $id.sql gets EACCES"
t_like "$(as_nobody cp "$W/squat.sql" "$Q/fast/$id.sql" 2>&1)" 'Permission denied' \
	"in every pool"
as_nobody cp "$W/squat.sql" "$Q/default/.tmp"
t_is "$(as_nobody python3 -c "
import errno, os
try: os.rename('$Q/default/.tmp', '$Q/default/$id.sql'); print('ok')
except OSError as e: print(errno.errorcode[e.errno])")" EACCES "a rename onto it too"
as_nobody rm -f "$Q/default/.tmp"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = '$id.sql'")" 0 "nothing was created"

# ---- the reserving user submits once; retries get EBUSY, then EEXIST
t_ok "root submits $id.sql" cp "$W/once.sql" "$Q/default/$id.sql"
t_is "$(task_wait "$id")" done "task $id ran"
t_like "$(cp "$W/once.sql" "$Q/default/$id.sql" 2>&1)" 'File exists' \
	"a second cp of $id.sql after it ran gets EEXIST"
t_like "$(cp "$W/once.sql" "$Q/fast/$id.sql" 2>&1)" 'File exists' "in another pool too"
cp "$W/once.sql" "$Q/default/.again"
t_is "$(py_errno "os.rename(sys.argv[1], sys.argv[2])" "$Q/default/.again" "$Q/default/$id.sql")" EEXIST \
	"and a rename onto it"
rm -f "$Q/default/.again"
sleep 1
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM hits WHERE what = 'once'")" 1 "the task ran exactly once"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = '$id.sql'")" 1 "one task has that name"
t_like "$(as_nobody cp "$W/squat.sql" "$Q/default/$id.sql" 2>&1)" 'Permission denied' \
	"another user still gets EACCES"

id2=$(new_id)
cp "$W/block.sql" "$Q/slow/blocker.sql"
# Running first: $id2 is the older id, and a claim that took both would
# start it first.
blocker_runs() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'blocker.sql'")" = running ]; }
t_ok "the blocker runs" wait_until 10 blocker_runs
t_ok "root submits $id2.sql behind a blocker" cp "$W/once.sql" "$Q/slow/$id2.sql"
t_like "$(cp "$W/once.sql" "$Q/slow/$id2.sql" 2>&1)" 'busy' "while it is pending, a second cp gets EBUSY"
t_like "$(cp "$W/once.sql" "$Q/default/$id2.sql" 2>&1)" 'busy' "in another pool too"
t_is "$(task_wait "$id2")" done "task $id2 ran"
t_like "$(cp "$W/once.sql" "$Q/slow/$id2.sql" 2>&1)" 'File exists' "after it ran: EEXIST"
sleep 1
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM hits WHERE what = 'once'")" 2 "each reserved task ran once"

# ---- the store decides when the content is stored (a squatter who opened
# the name before it was reserved)
next=$(ctl "SELECT last_value + 1 FROM pgqfs.task_id_seq")
mkfifo "$W/go"
chmod 666 "$W/go"
as_nobody python3 -c "
import errno, os, sys
fd = os.open('$Q/default/$next.sql', os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b\"INSERT INTO hits (what) VALUES ('squat');\n\")
open('$W/go').read()
try:
    os.close(fd); print('ok')
except OSError as e:
    print(errno.errorcode[e.errno])" >"$W/squat.out" 2>&1 &
sq=$!
sleep 1
rid=$(new_id)
echo go >"$W/go"
wait "$sq"
t_is "$rid" "$next" "root reserved the id the squatter guessed"
t_is "$(cat "$W/squat.out")" EACCES "the squatter's close() gets EACCES from the store"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = '$next.sql'")" 0 "nothing was queued"
t_ok "root can still submit $rid.sql" cp "$W/once.sql" "$Q/default/$rid.sql"
t_is "$(task_wait "$rid")" done "and it runs"

# ---- numeric names never handed out are ordinary names
t_ok "nobody submits 999999.sql (never handed out)" as_nobody cp "$W/squat.sql" "$Q/default/999999.sql"
# (A function: wait_until runs its command again; test "$(...)" would not.)
done_999999() { [ "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = '999999.sql' AND state = 'done'")" = "$1" ]; }
wait_until 30 done_999999 1
t_ok "and again once it ran" as_nobody cp "$W/squat.sql" "$Q/default/999999.sql"
wait_until 30 done_999999 2
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = '999999.sql' AND state = 'done'")" 2 "both ran"
t_ok "root submits 0$id.sql (not canonical: an ordinary name)" cp "$W/squat.sql" "$Q/fast/0$id.sql"

# ---- and so they cannot squat the next ids: new-id skips an id whose
# name is pending (in any pool), and the id it hands out is the reserver's.
# Each of nobody's 5 files takes an id itself: names base+6 .. base+10 are
# the next ids after them.
base=$(as_nobody cat "$MNT/new-id")
printf -- '-- pgqfs: not_before=2099-01-01T00:00:00Z\nSELECT 1;\n' >"$W/later.sql"
chmod 644 "$W/later.sql"
for k in 6 7 8 9 10; do
	as_nobody cp "$W/later.sql" "$Q/fast/$((base + k)).sql" || t_fail "nobody's cp of $((base + k)).sql"
done
rid=$(new_id)
t_ok "root's new-id skips the 5 pending names nobody queued ($((base + 6))..$((base + 10)), got $rid)" \
	test "$rid" -gt "$((base + 10))"
t_ok "root's cp of $rid.sql to the same pool succeeds" cp "$W/once.sql" "$Q/fast/$rid.sql"
t_is "$(task_wait "$rid")" done "and it runs"

# ---- a retry cannot make another user's reserved name pending again:
# nobody's X.sql, an ordinary name when submitted (X not yet handed out),
# is cancelled; root then reserves X; nobody's retry of the old task is
# refused, as its submission would be now.
base=$(as_nobody cat "$MNT/new-id")
x=$((base + 2))	# nobody's submission takes base + 1
as_nobody cp "$W/later.sql" "$Q/default/$x.sql" || t_fail "nobody's cp of $x.sql"
old=$(ctl "SELECT id FROM pgqfs.task WHERE name = '$x.sql'")
t_is "$old" "$((base + 1))" "nobody's $x.sql is task $((base + 1))"
as_nobody rm "$Q/default/$x.sql"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $old")" cancelled "and is cancelled"
rid=$(new_id)
t_is "$rid" "$x" "root's new-id hands out $x"
t_like "$(as_nobody bash -c "echo 1 >'$MNT/tasks/$old/retry'" 2>&1)" 'write error: Permission denied' \
	"nobody's retry of the old $x.sql is refused (EACCES)"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $old")" cancelled "it stays cancelled"
t_ok "root's cp of $x.sql succeeds" cp "$W/once.sql" "$Q/default/$x.sql"
t_is "$(task_wait "$x")" done "and it runs"

# ---- nor with more pending names than new-id used to skip (100): each
# of nobody's 130 files takes an id, and their names are the 130 after.
base=$(as_nobody cat "$MNT/new-id")
as_nobody python3 -c "
import sys
for k in range(131, 261):
    with open('$Q/fast/%d.sql' % ($base + k), 'w') as f:
        f.write(open('$W/later.sql').read())
" || t_fail "nobody's 130 files"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE state = 'queued' AND name ~ '^[0-9]+[.]sql$'
	AND substring(name FROM '^([0-9]+)')::bigint BETWEEN $((base + 131)) AND $((base + 260))")" 130 \
	"nobody's 130 names are pending"
rid=$(new_id)
t_ok "root's new-id skips them all ($((base + 131))..$((base + 260)), got $rid)" \
	test "$rid" -gt "$((base + 260))"
t_ok "root's cp of $rid.sql succeeds" cp "$W/once.sql" "$Q/fast/$rid.sql"
t_is "$(task_wait "$rid")" done "and it runs"

# ---- cancel() checks the submitter in SQL
cp "$W/block.sql" "$Q/slow/b2.sql"
cp "$W/squat.sql" "$Q/slow/mine.sql"
nuid=$(id -u nobody)
t_is "$(ctl "SET search_path = pgqfs; SELECT cancel('slow', 'mine.sql', $nuid)")" -1 \
	"cancel() by another uid refuses root's pending task"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'mine.sql'")" queued "which stays queued"
t_ok "root's rm cancels it" rm "$Q/slow/mine.sql"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'mine.sql'")" cancelled "it is cancelled"
pgqfs_stop main
t_done
