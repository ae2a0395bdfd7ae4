#!/usr/bin/env bash
# A schedule rewritten while the executor is busy elsewhere moves on by
# its new rule, not by the one the executor read before.  every=10s is
# rewritten to every=20s; both have the same next tick T (a multiple of
# 20 s).  The executor's control connection is held (a claim waits on a
# pool's claim lock of ours) from before the rewrite until after T, so the
# first statement it sends after T comes with the change unread.  It must
# fire T once and set the next tick to T+20 by the new rule: one run by
# T+13.  Before, it fired T by the old rule's copy it held, moving the
# schedule to T+10, and a second run came at T+10.  Then a schedule
# removed and written again while its run goes on.
E2E_TIMEOUT=${E2E_TIMEOUT:-120}
. "$SRCDIR/e2e/lib.sh"

ctl() { psql_ref -d pgqfs_ctl -tAqX "$@"; }
# until_s S: sleeps until the epoch second S (at once when it is past).
until_s() {
	local left=$(($1 * 1000 - $(now_ms)))
	[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	return 0
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
printf -- '-- pgqfs: every=10s\nSELECT 1 AS tick;\n' >"$W/old.sql"
printf -- '-- pgqfs: every=20s\nSELECT 1 AS tick;\n' >"$W/new.sql"
printf 'SELECT 1 AS held;\n' >"$W/held.sql"

# T: a multiple of 20 s at least 10 s ahead; the first write at T-9, after
# the old rule's tick at T-10.
now=$(($(now_ms) / 1000))
T=$(((now / 20 + 1) * 20))
[ $((T - now)) -lt 10 ] && T=$((T + 20))
until_s $((T - 9))
cp "$W/old.sql" "$MNT/schedules/default/s.sql" || t_fail "write the schedule (every=10s)"

claim_waits() {
	[ "$(ctl -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")" -ge 1 ]
}
session_open lk pgqfs_ctl
session_send lk "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgqfs' || '.pool'), hashtext('fast')); SELECT 'locked';"
locked() { grep -q locked "$E2E_TMP/lk.out"; }
wait_until 10 locked || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"
submit fast "$W/held.sql" || t_fail "cp into pool fast"
t_ok "the executor's claim waits for the lock" wait_until 5 claim_waits
cp "$W/new.sql" "$MNT/schedules/default/s.sql" || t_fail "rewrite the schedule (every=20s)"
t_ok "the rewrite is stored before T ($(($(now_ms) / 1000)) < $T)" test "$(($(now_ms) / 1000))" -lt "$T"
until_s $((T + 1))
session_send lk "COMMIT;"
session_close lk
until_s $((T + 13))
runs=$(ctl -c "SELECT count(*) FROM pgqfs.task WHERE pool = 'default' AND name = 's.sql'")
t_is "$runs" 1 "one run by T+13 (the tick at T), none at T+10"
next=$(ctl -c "SELECT extract(epoch FROM next_at)::bigint FROM pgqfs.schedule WHERE pool = 'default' AND name = 's.sql'")
t_is "$next" $((T + 20)) "the next tick is T+20, by the new rule"
rm -f "$MNT/schedules/default/s.sql"

# rm, then cp of the same schedule while its run goes on: the new one's
# ticks are skipped until that run ends, as a rewritten schedule's are.
# Before (schema 11), the new schedule began with no last run, and its
# first tick ran beside the old one's.
printf -- '-- pgqfs: every=1s\nSELECT pg_sleep(3) AS slow;\n' >"$W/slow.sql"
slow_running() {
	[ "$(ctl -c "SELECT count(*) FROM pgqfs.task WHERE pool = 'default'
		AND name = 'slow.sql' AND state = 'running'")" -ge 1 ]
}
slow_runs() { ctl -c "SELECT count(*) FROM pgqfs.task WHERE pool = 'default' AND name = 'slow.sql'"; }
cp "$W/slow.sql" "$MNT/schedules/default/slow.sql" || t_fail "write the slow schedule"
t_ok "its first run runs" wait_until 10 slow_running
rm "$MNT/schedules/default/slow.sql" || t_fail "rm the slow schedule"
cp "$W/slow.sql" "$MNT/schedules/default/slow.sql" || t_fail "write it again"
sleep 2
t_is "$(slow_runs)" 1 "no run of the new schedule beside the old one's"
more_runs() { [ "$(slow_runs)" -ge 2 ]; }
t_ok "a run follows once it ended" wait_until 10 more_runs
rm -f "$MNT/schedules/default/slow.sql"
t_done
