#!/usr/bin/env bash
# SIGHUP reloads the configuration file: a pool added shows up and runs
# tasks, a pool removed disappears while its running task finishes, a
# changed max_workers is the latest change (pools/ shows it), a target's
# conninfo changed takes effect for new tasks; a broken file is refused
# with FILE:LINE and the running configuration stays; control and schema
# cannot change.
E2E_TIMEOUT=${E2E_TIMEOUT:-150}
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
CONF=$E2E_TMP/main.conf
LOG=$E2E_TMP/main.log
PID=${PGQFS_PID[main]}
app() { psql_ref -d app -tAX "$@"; }
app -qc 'CREATE TABLE ran (pool text, id bigint)'

# Sends SIGHUP and waits for the daemon's answer in its log.
hup() {
	local before
	before=$(grep -c 'SIGHUP' "$LOG")
	kill -HUP "$PID"
	wait_until 10 bash -c "[ \$(grep -c 'SIGHUP' '$LOG') -gt $before ]"
	sleep 0.2
}

# ------------------------------------------------------------ add a pool
cp "$CONF" "$W/orig.conf"
printf '\n[pool extra]\ntarget = main\nmax_workers = 2\n' >>"$CONF"
hup
t_like "$(tail -3 "$LOG")" 'SIGHUP: .* reloaded: 3 pools on 1 targets' "the log says the file was reloaded"
t_ok "queue/extra appears" test -d "$MNT/queue/extra"
t_like "$(ls "$MNT/queue")" 'extra' "and is listed"
printf "INSERT INTO ran VALUES ('extra', 1);\n" >"$W/x.sql"
id=$(new_id)
submit extra "$W/x.sql" "$id.sql"
t_is "$(task_wait "$id" 20)" done "a task of the new pool runs"
t_is "$(app -c "SELECT count(*) FROM ran WHERE pool = 'extra'")" 1 "once"

# ------------------------------------------------------- a broken file
cp "$CONF" "$W/good.conf"
printf '\n[pool broken]\ntarget = nosuchtarget\n' >>"$CONF"
hup
t_like "$(tail -3 "$LOG")" "SIGHUP: $CONF:[0-9]+: .*nosuchtarget.*; the running configuration stays" \
	"a broken file is refused with FILE:LINE"
t_ok "the daemon still runs" kill -0 "$PID"
t_ok "queue/extra is still there" test -d "$MNT/queue/extra"
t_ok "queue/broken is not" test ! -e "$MNT/queue/broken"
id=$(new_id)
submit extra "$W/x.sql" "$id.sql"
t_is "$(task_wait "$id" 20)" done "the running configuration still runs tasks"
printf '[pgqfs]\ncontrol = dbname=other\nschema = pgqfs\n' >"$W/ctl.conf"
sed -n '/^\[target/,$p' "$W/good.conf" >>"$W/ctl.conf"
cp "$W/ctl.conf" "$CONF"
hup
t_like "$(tail -3 "$LOG")" 'control and schema cannot change' "a changed control database is refused"

# ---------------------------- remove a pool while its task runs; max_workers
printf "SELECT pg_sleep(2);\nINSERT INTO ran VALUES ('fast', 1);\n" >"$W/slow.sql"
slow=$(new_id)
submit fast "$W/slow.sql" "$slow.sql"
t_ok "a task of pool fast runs" wait_file_content "$MNT/tasks/$slow/state" running 20
# The good file without [pool fast], and default's max_workers 4 -> 1.
awk '/^\[pool fast\]/ { skip = 1; next } /^\[/ { skip = 0 } !skip' "$W/good.conf" |
	sed '/^\[pool default\]/,/^\[/ s/^max_workers = 4$/max_workers = 1/' >"$CONF"
grep -q 'max_workers = 1' "$CONF" || t_bail "test bug: no max_workers = 1 in the new file"
hup
t_like "$(tail -4 "$LOG")" 'reloaded: 2 pools' "the file without pool fast is taken"
t_ok "queue/fast is gone" test ! -e "$MNT/queue/fast"
t_is "$(task_wait "$slow" 20)" done "the removed pool's running task finishes, done"
t_is "$(app -c "SELECT count(*) FROM ran WHERE pool = 'fast'")" 1 "its work was done once"
t_is "$(cat "$MNT/pools/default/max_workers")" 1 "default's max_workers changed in the file: pools/ shows 1"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT max_workers FROM pgqfs.pool_setting WHERE pool = 'default'")" 1 \
	"recorded for every daemon"
# One at a time now.
for i in 1 2 3; do
	printf "SELECT pg_sleep(0.5);\nINSERT INTO ran VALUES ('default', $i);\n" >"$W/d$i.sql"
	ids[$i]=$(new_id)
	submit default "$W/d$i.sql" "${ids[$i]}.sql"
done
peak=0
for ((k = 0; k < 40; k++)); do
	n=$(app -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND state = 'active'")
	[ "$n" -gt "$peak" ] && peak=$n
	sleep 0.05
done
for i in 1 2 3; do task_wait "${ids[$i]}" 20 >/dev/null; done
t_is "$peak" 1 "the pool runs one task at a time on the server"

# ------------------------------------------------------ the target changes
# A target's new conninfo applies to new tasks (application_name shows
# which connection a task ran on: its fallback_application_name differs).
sed "s/^conninfo = \(.*\)$/conninfo = \1 options='-c search_path=reloaded,public'/" "$CONF" >"$W/t.conf"
cp "$W/t.conf" "$CONF"
hup
printf 'SHOW search_path;\n' >"$W/sp.sql"
id=$(new_id)
submit default "$W/sp.sql" "$id.sql"
t_is "$(task_wait "$id" 20)" done "a task after the target changed runs"
t_is "$(cat "$MNT/tasks/$id/result")" $'search_path\n"reloaded,public"' "on a connection with the new conninfo"
pgqfs_stop
t_done
