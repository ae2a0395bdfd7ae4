#!/usr/bin/env bash
# Task control at the filesystem: info's option lines and what a queued
# task waits for; tasks/ID/cancel and retry (modes, owners, what a write
# does and which writes are refused); pools/<pool>/max_workers and paused.
# Broader behaviour (across daemons, back-off, limits on the server) is
# control.sh's and pools.sh's.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool one]\ntarget = main\nmax_workers = 1\n'
}

pg_start
pgqfs_start main -o allow_other || t_bail "daemon did not start"
LOG=${PGQFS_LOG[main]}
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$E2E_TMP" "$W"

# write FILE TEXT: printf TEXT > FILE in a shell of its own; prints what
# the shell said (the errno of write() as strerror) and succeeds when the
# write did.
write() {
	bash -c 'printf "%s" "$2" >"$1"' write "$1" "$2" 2>&1
}
state_is() { [ "$(cat "$MNT/tasks/$1/state" 2>/dev/null)" == "$2" ]; }
info_has() { grep -qE "$2" "$MNT/tasks/$1/info" 2>/dev/null; }
have_nobody=0
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	have_nobody=1
fi

# ---- info shows the options in effect; the new files' modes and owners
printf -- '-- pgqfs: priority=5 retries=2 timeout=30s\nSELECT 1 AS one;\n' >"$W/hdr.sql"
hid=$(new_id)
submit default "$W/hdr.sql" "$hid.sql"
t_is "$(task_wait "$hid")" done "a task with a header runs"
t_is "$(grep -E '^(priority|retries|timeout)=' "$MNT/tasks/$hid/info")" \
	$'priority=5\ntimeout=30s\nretries=2' "info shows the header's options in effect"
t_ok "and the defaults of the others" grep -qx 'retry_delay=1s' "$MNT/tasks/$hid/info"
t_is "$(stat -c %s "$MNT/tasks/$hid/info")" "$(wc -c <"$MNT/tasks/$hid/info")" \
	"info's size is that of its content"
for f in cancel retry; do
	t_is "$(stat -c '%U %G %a %s' "$MNT/tasks/$hid/$f")" "root root 200 0" \
		"tasks/ID/$f: the submitter's, mode 200, empty"
	t_is "$(stat -c '%a' "$MNT/done/$hid/$f")" 200 "done/ID/$f too"
done
t_is "$(ls "$MNT/tasks/$hid" | grep -cxE 'cancel|retry')" 2 "both are listed in the task directory"
t_is "$(cat "$MNT/tasks/$hid/cancel")" "" "they read empty (for root)"

# ---- refused writes
t_like "$(write "$MNT/tasks/$hid/cancel" $'1\n')" 'Invalid argument' \
	"cancel of a done task: EINVAL"
t_like "$(write "$MNT/tasks/$hid/retry" 1)" 'Invalid argument' "retry of a done task: EINVAL"
t_like "$(write "$MNT/tasks/$hid/cancel" 2)" 'Invalid argument' "writing anything but 1: EINVAL"
t_like "$(write "$MNT/tasks/$hid/retry" 'yes please')" 'Invalid argument' "(retry too)"
t_ok "a truncate to 0 is accepted (the O_TRUNC of echo 1 >)" truncate -s 0 "$MNT/tasks/$hid/cancel"
t_ok "a truncate to any other size is not" bash -c "! truncate -s 1 '$MNT/tasks/$hid/retry' 2>/dev/null"
t_ok "a refused write is logged, saying why" \
	grep -q "refused tasks/$hid/cancel.*has finished already" "$LOG"
t_ok "and a bad value's" grep -q "refused tasks/$hid/cancel.*only 1" "$LOG"

if [ "$have_nobody" = 1 ]; then
	t_like "$(runuser -u nobody -- bash -c "printf 1 >'$MNT/tasks/$hid/cancel'" 2>&1)" \
		'Permission denied' "another user cannot write a task's cancel"
	t_like "$(runuser -u nobody -- cat "$MNT/tasks/$hid/retry" 2>&1)" \
		'Permission denied' "nor read its retry"
else
	t_skip "another user's writes" "needs root and user nobody"
fi

# ---- waits_for, waits_until, cancel of queued and running tasks by id
printf 'SELECT pg_sleep(120);\n' >"$W/sleep.sql"
rid=$(new_id)
submit default "$W/sleep.sql" "$rid.sql"
t_ok "a long task runs" wait_until 20 state_is "$rid" running
printf -- '-- pgqfs: after=%s\nSELECT 2 AS two;\n' "$rid" >"$W/dep.sql"
did=$(new_id)
submit default "$W/dep.sql" "$did.sql"
t_ok "a task after it says what it waits for" wait_until 10 info_has "$did" "^waits_for=$rid\$"
t_is "$(cat "$MNT/tasks/$did/state")" queued "and is queued"
t_ok "listed in its pool under its name" test -e "$MNT/queue/default/$did.sql"
t_ok "info shows its after= option" grep -qx "after=$rid" "$MNT/tasks/$did/info"
t_ok "write 1 to its cancel" write "$MNT/tasks/$did/cancel" $'1\n'
t_is "$(cat "$MNT/tasks/$did/state")" cancelled "it is cancelled when the write returns"
t_ok "no longer in its pool" test ! -e "$MNT/queue/default/$did.sql"
t_ok "nor in its listing" bash -c "! ls '$MNT/queue/default' | grep -qx '$did.sql'"
t_is "$(task_wait "$did" 10)" cancelled "its wait says cancelled"
t_ok "it is in failed/" test -d "$MNT/failed/$did"
t_ok "no waits_for once it has ended" bash -c "! grep -q '^waits_for=' '$MNT/tasks/$did/info'"

printf -- '-- pgqfs: not_before=+30s\nSELECT 3 AS three;\n' >"$W/later.sql"
lid=$(new_id)
submit default "$W/later.sql" "$lid.sql"
t_ok "a task not before +30s says until when it waits" \
	wait_until 10 info_has "$lid" '^waits_until=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'
sub=$(date -d "$(sed -n 's/^submitted_at=//p' "$MNT/tasks/$lid/info")" +%s%N)
until_ns=$(date -d "$(sed -n 's/^waits_until=//p' "$MNT/tasks/$lid/info")" +%s%N)
t_is "$(( (until_ns - sub) / 1000000 ))" 30000 "waits_until is submitted_at + 30 s"
t_is "$(stat -c %s "$MNT/tasks/$lid/info")" "$(wc -c <"$MNT/tasks/$lid/info")" \
	"a waiting task's info: its size is that of its content"
t_ok "cancel it by id" write "$MNT/tasks/$lid/cancel" 1
t_is "$(cat "$MNT/tasks/$lid/state")" cancelled "it is cancelled"
# ---- pools/
t_is "$(ls "$MNT/pools" | tr '\n' ' ')" "default fast one " "pools/ lists the configured pools"
t_is "$(ls "$MNT/pools/default" | tr '\n' ' ')" "max_workers paused " "each has max_workers and paused"
t_is "$(stat -c '%U %a' "$MNT/pools/default/max_workers" "$MNT/pools/default/paused" | tr '\n' ' ')" \
	"root 644 root 644 " "mode 644, the mount owner's"
t_is "$(cat "$MNT/pools/default/max_workers")" 4 "max_workers reads the configuration's value"
t_is "$(cat "$MNT/pools/fast/paused")" 0 "paused reads 0"
t_ok "write max_workers" write "$MNT/pools/fast/max_workers" $'3\n'
t_is "$(cat "$MNT/pools/fast/max_workers")" 3 "it reads the new value at once"
t_is "$(stat -c %s "$MNT/pools/fast/max_workers")" 2 "its size is that of its value"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT max_workers FROM pgqfs.pool_setting WHERE pool = 'fast'")" 3 \
	"the control database has it"
t_ok "write it without a newline" write "$MNT/pools/fast/max_workers" 5
t_is "$(cat "$MNT/pools/fast/max_workers")" 5 "(read back)"
for bad in 0 -1 abc 10001 ' 2' 2x '1 2'; do
	t_like "$(write "$MNT/pools/fast/max_workers" "$bad")" 'Invalid argument' \
		"max_workers '$bad': EINVAL"
done
for bad in 2 -1 yes 01x; do
	t_like "$(write "$MNT/pools/fast/paused" "$bad")" 'Invalid argument' "paused '$bad': EINVAL"
done
t_is "$(cat "$MNT/pools/fast/max_workers") $(cat "$MNT/pools/fast/paused")" "5 0" \
	"bad values change nothing"
t_ok "a bad value is logged" grep -q "refused pools/fast/paused.*write 1 to pause" "$LOG"
if [ "$have_nobody" = 1 ]; then
	t_like "$(runuser -u nobody -- bash -c "printf 1 >'$MNT/pools/fast/paused'" 2>&1)" \
		'Permission denied' "another user cannot pause a pool"
	t_is "$(runuser -u nobody -- cat "$MNT/pools/fast/max_workers")" 5 "but can read its settings"
fi

# ---- pause and resume
t_ok "pause pool one" write "$MNT/pools/one/paused" $'1\n'
t_is "$(cat "$MNT/pools/one/paused")" 1 "paused reads 1"
printf 'SELECT 4 AS four;\n' >"$W/p.sql"
pid=$(new_id)
submit one "$W/p.sql" "$pid.sql"
sleep 2
t_is "$(cat "$MNT/tasks/$pid/state")" queued "a task submitted to the paused pool stays queued for 2 s"
t_ok "resume it" write "$MNT/pools/one/paused" 0
t_is "$(task_wait "$pid" 10)" done "then the task runs"

# ---- retry of a failed task
psql_ref -d app -q -c "DROP TABLE IF EXISTS fsctl_missing" >/dev/null 2>&1
printf 'SELECT pg_sleep(1.5);\nSELECT count(*) AS n FROM fsctl_missing;\n' >"$W/fix.sql"
printf 'SELECT count(*) AS n FROM fsctl_missing;\n' >"$W/busy.sql"
fid=$(new_id)
submit one "$W/fix.sql" "$fid.sql"
submit one "$W/busy.sql"
bid=$(psql_ref -d pgqfs_ctl -tAc "SELECT id FROM pgqfs.task WHERE name = 'busy.sql'")
t_is "$(task_wait "$fid")" failed "a task on a missing table fails"
t_is "$(task_wait "$bid")" failed "(another one too)"
t_is "$(cat "$MNT/tasks/$fid/state")" failed "(its state, read while failed)"
t_ok "at attempt 1" grep -qx 'attempt=1' "$MNT/tasks/$fid/info"
t_ok "pause pool one" write "$MNT/pools/one/paused" 1
t_ok "a task of the same name as a failed one is pending" submit one "$W/busy.sql"
t_like "$(write "$MNT/tasks/$bid/retry" 1)" 'Device or resource busy' \
	"the failed one's retry: EBUSY"
t_ok "and logged" grep -q "refused tasks/$bid/retry.*same name is pending" "$LOG"
t_ok "rm cancels the pending one" rm "$MNT/queue/one/busy.sql"
# A look-up of the name while it is not pending: the kernel and the daemon
# remember the miss for a moment.
t_ok "the failed task's name is not pending" test ! -e "$MNT/queue/one/$fid.sql"
psql_ref -d app -q -c "CREATE TABLE fsctl_missing (x int)" >/dev/null
t_ok "write 1 to its retry" write "$MNT/tasks/$fid/retry" $'1\n'
t_is "$(cat "$MNT/tasks/$fid/state")" queued "it is queued when the write returns"
t_ok "queue/one/NAME finds it at once" test -e "$MNT/queue/one/$fid.sql"
t_ok "it is listed in its pool" bash -c "ls '$MNT/queue/one' | grep -qx '$fid.sql'"
t_ok "it has left failed/" test ! -e "$MNT/failed/$fid"
t_like "$(write "$MNT/tasks/$fid/retry" 1)" 'Invalid argument' "a second retry: EINVAL (it is queued)"
timeout 1 cat "$MNT/tasks/$fid/wait" >/dev/null
t_is "$?" 124 "wait blocks while the retried task is held"
t_ok "resume pool one" write "$MNT/pools/one/paused" 0
start=$(date +%s%N)
t_is "$(task_wait "$fid" 30)" done "wait answers when the new attempt ends: done"
t_ok "not before it has run (its pg_sleep)" \
	test $(( ($(date +%s%N) - start) / 1000000 )) -ge 1000
t_ok "at attempt 2" grep -qx 'attempt=2' "$MNT/tasks/$fid/info"
t_file_is "$MNT/tasks/$fid/result" $'pg_sleep\n\nn\n0\n' "its result is the new attempt's"
t_ok "its error file is gone" test ! -e "$MNT/tasks/$fid/error"
t_is "$(stat -c %s "$MNT/tasks/$fid/info")" "$(wc -c <"$MNT/tasks/$fid/info")" \
	"info's size is that of its new content"

# ---- cancel of a running task (last: the executor's side follows)
t_ok "cancel the running task through running/ID/cancel" write "$MNT/running/$rid/cancel" 1
t_is "$(task_wait "$rid" 15)" cancelled "it ends cancelled"
t_like "$(cat "$MNT/tasks/$rid/error")" "uid 0" "its error says by which uid"


t_done
