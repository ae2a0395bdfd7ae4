#!/usr/bin/env bash
# `wait`: readers park without holding threads; 200 of them leave the rest
# of the mount responsive; a reader that is interrupted leaves at once;
# all are answered when the task ends.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W" "$W/out"

# A task that runs until we let it finish: it waits for an advisory lock
# that this test holds in a psql session of its own.
session_open hold app || t_bail "no psql session"
session_send hold "SELECT pg_advisory_lock(4242);"
t_ok "the test holds the advisory lock" wait_until 10 advisory_held 4242

echo "SELECT pg_advisory_lock(4242); SELECT 'released' AS outcome;" >"$W/blocked.sql"
id=$(new_id)
submit default "$W/blocked.sql" "$id.sql"
t_ok "the task is running" wait_file_content "$MNT/tasks/$id/state" running 10

# 200 parked readers.
for i in $(seq 200); do
	timeout 60 cat "$MNT/tasks/$id/wait" >"$W/out/$i" 2>&1 &
done
t_ok "stats counts 200 parked readers" wait_until 10 bash -c \
	"grep -qx 'waiting 200' '$MNT/stats'"

start=$(date +%s%N)
ls "$MNT/tasks" >/dev/null
ls -l "$MNT/tasks/$id/" >/dev/null
cat "$MNT/tasks/$id/state" >/dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
t_ok "with 200 readers parked, ls and cat answer at once (${elapsed} ms)" test "$elapsed" -lt 1000

# Another submission still runs while they wait.
echo "SELECT 'meanwhile';" >"$W/other.sql"
id2=$(new_id)
submit fast "$W/other.sql" "$id2.sql"
t_is "$(task_wait "$id2" 10)" done "another task runs and is waited for meanwhile"

# Ctrl-C: SIGINT with its default action (a background job of a script
# ignores SIGINT, so reset it with perl before exec'ing cat).
perl -e '$SIG{INT} = "DEFAULT"; exec "cat", @ARGV' "$MNT/tasks/$id/wait" >/dev/null 2>&1 &
intr=$!
wait_until 10 bash -c "grep -qx 'waiting 201' '$MNT/stats'"
start=$(date +%s%N)
kill -INT "$intr"
wait "$intr"
st=$?
elapsed=$((($(date +%s%N) - start) / 1000000))
t_ok "an interrupted reader leaves at once (${elapsed} ms)" test "$elapsed" -lt 1000
t_ok "and it died of the signal (status $st)" test "$st" -ne 0
t_ok "stats forgets it" wait_until 5 bash -c "grep -qx 'waiting 200' '$MNT/stats'"

# Let the task finish: every parked reader gets the state line.
session_send hold "SELECT pg_advisory_unlock(4242);"
session_close hold
wait_until 30 bash -c "[ \$(cat $W/out/* | grep -cx done) -eq 200 ]"
t_is "$(cat "$W"/out/* | grep -cx done)" 200 "all 200 readers got 'done'"
t_file_is "$MNT/done/$id/result" $'pg_advisory_lock\n\noutcome\nreleased\n' "the task's result"
t_file_is "$MNT/done/$id/wait" $'done\n' "wait on a finished task returns at once"
t_is "$(dd if="$MNT/done/$id/wait" bs=1 2>/dev/null)" done "read a byte at a time, the whole line"
t_ok "stats shows nobody waiting" grep -qx 'waiting 0' "$MNT/stats"

t_done
