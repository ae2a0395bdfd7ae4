#!/usr/bin/env bash
# A schedule's first tick that passes while the schedule's write is in
# flight fires, late, once the write commits (schema version 15).  The
# write is held on the server: a non-root writer's put_schedule() takes
# the (pool, name) lock first, and the test holds it past the tick.  The
# skip that version 10 brought stays for the ticks it was for: a schedule
# rewritten with a tick the old rule fired meanwhile as its first, or
# removed and written again so, does not fire that tick again.  The
# control database says what ran when.
. "$SRCDIR/e2e/lib.sh"

ctl() { psql_ref -d pgqfs_ctl -tAqc "SET search_path = pgqfs; $1"; }
pg_start
psql_ref -d app -qc "CREATE TABLE ticks (id serial, at timestamptz DEFAULT clock_timestamp());
	GRANT ALL ON ticks, ticks_id_seq TO PUBLIC" || t_bail "cannot create the target table"
pgqfs_start main -o allow_other || t_bail "daemon did not start"
S=$MNT/schedules/default
chmod 755 "$E2E_TMP"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$W"
# runs NAME [FROM_MS TO_MS]: runs of schedule default/NAME (submitted in
# [FROM_MS, TO_MS), by the server's clock).
runs() {
	local w=""
	[ -n "${2:-}" ] && w="AND submitted_at >= to_timestamp($2 / 1000.0) AND submitted_at < to_timestamp($3 / 1000.0)"
	ctl "SELECT count(*) FROM task WHERE schedule = 'default/$1' $w"
}
has_runs() { [ "$(runs "$1")" -ge "$2" ]; }
sleep_until_ms() {
	local d=$(($1 - $(now_ms)))
	[ "$d" -le 0 ] || sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
}

# ---- the first tick passes while the write waits for the lock
printf -- '-- pgqfs: every=2s\nINSERT INTO ticks DEFAULT VALUES;\n' >"$W/first.sql"
session_open namelock pgqfs_ctl
session_send namelock "SELECT pg_advisory_lock(hashtext('pgqfs.name'), hashtext('default/first.sql')), 'locked';"
namelocked() { grep -q locked "$E2E_TMP/namelock.out"; }
wait_until 10 namelocked || t_bail "the name lock was not taken: $(cat "$E2E_TMP/namelock.out")"
# Written 0.2-0.8 s into an even second: its first tick is the next even
# second, 1.2 s away or more.
in_phase() { local m=$(($(now_ms) % 2000)); [ "$m" -ge 200 ] && [ "$m" -le 800 ]; }
wait_until 5 in_phase || t_bail "no phase"
tick=$((($(now_ms) / 2000 + 1) * 2000))
runuser -u nobody -- cp "$W/first.sql" "$S/first.sql" &
cp_pid=$!
lock_waits() {
	[ "$(psql_ref -d pgqfs_ctl -tAX -c "SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND NOT granted")" = 1 ]
}
t_ok "the schedule's write waits for the name lock" wait_until 5 lock_waits
sleep_until_ms $((tick + 300))
session_send namelock "SELECT pg_advisory_unlock_all();"
t_ok "the write succeeds once the lock is gone" wait "$cp_pid"
t_ok "a run comes" wait_until 5 has_runs first.sql 1
t_is "$(runs first.sql "$tick" $((tick + 1500)))" 1 \
	"the first tick, passed during the write, fired once, late (not a period later)"
t_ok "the next tick fires too" wait_until 5 has_runs first.sql 2
t_is "$(runs first.sql "$tick" $((tick + 2000)))" 1 "the first tick fired once"
rm "$S/first.sql" || t_fail "rm of first.sql"
session_close namelock

# ---- a rewrite whose first tick the old rule has fired: not again
printf -- '-- pgqfs: every=3s\nINSERT INTO ticks DEFAULT VALUES;\n' >"$W/again.sql"
cp "$W/again.sql" "$S/again.sql" || t_fail "cp of again.sql"
t_ok "again.sql fires" wait_until 6 has_runs again.sql 1
# last_tick: the tick of again.sql's last run (every=3s).
last_tick() {
	local sub
	sub=$(ctl "SELECT floor(extract(epoch FROM max(submitted_at)) * 1000)::int8 FROM task
		WHERE schedule = 'default/again.sql'")
	echo $((sub / 3000 * 3000))
}
fired=$(last_tick)
# Its row rewritten (as put_schedule() is called for a write) with that
# tick as the first, computed from a clock reading 100 ms before it: the
# write that read the clock then committed after the old rule fired it.
rewrite="SELECT put_schedule(s.pool, s.name, s.uid, s.gid, s.query, s.priority,
	array_to_string(s.after, ','), s.nb_us, s.nb_ms, s.options, s.every_ms, s.cron, s.tz,
	$fired, $((fired - 100))) FROM schedule s WHERE s.pool = 'default' AND s.name = 'again.sql'"
t_is "$(ctl "$rewrite")" 0 "again.sql rewritten with the tick it fired as its first"
sleep_until_ms $((fired + 2500))
t_is "$(runs again.sql "$fired" $((fired + 3000)))" 1 "that tick did not fire again"
t_ok "the next tick fires" wait_until 5 has_runs again.sql 2
fired=$(last_tick)
# Removed and written again in one transaction, with the tick just fired.
t_is "$(ctl "DO \$\$ DECLARE s schedule; BEGIN
	SELECT * INTO s FROM schedule WHERE pool = 'default' AND name = 'again.sql';
	PERFORM drop_schedule('default', 'again.sql', 0);
	PERFORM put_schedule(s.pool, s.name, s.uid, s.gid, s.query, s.priority,
		array_to_string(s.after, ','), s.nb_us, s.nb_ms, s.options, s.every_ms, s.cron, s.tz,
		$fired, $((fired - 100)));
	END \$\$; SELECT count(*) FROM schedule WHERE name = 'again.sql'")" 1 \
	"again.sql removed and written again"
sleep_until_ms $((fired + 2500))
t_is "$(runs again.sql "$fired" $((fired + 3000)))" 1 "the tick a run was submitted for did not fire again"
t_ok "the next tick fires" wait_until 5 has_runs again.sql 3
rm "$S/again.sql" || t_fail "rm of again.sql"

# ---- a rewrite whose first tick passes while it is in flight, the old
# rule's next tick being far off: that tick fires, late.
printf -- '-- pgqfs: every=1h\nINSERT INTO ticks DEFAULT VALUES;\n' >"$W/hourly.sql"
cp "$W/hourly.sql" "$S/hourly.sql" || t_fail "cp of hourly.sql"
wait_until 5 in_phase || t_bail "no phase"
tick=$(($(now_ms) / 2000 * 2000))
t_is "$(ctl "SELECT put_schedule(s.pool, s.name, s.uid, s.gid, s.query, s.priority,
	array_to_string(s.after, ','), s.nb_us, s.nb_ms, s.options, 2000, NULL, NULL,
	$tick, $((tick - 100))) FROM schedule s WHERE s.pool = 'default' AND s.name = 'hourly.sql'")" 0 \
	"hourly.sql rewritten as every=2s, with a first tick that passed during the write"
t_ok "that tick fires" wait_until 5 has_runs hourly.sql 1
t_is "$(runs hourly.sql "$tick" $((tick + 2000)))" 1 "once, late"
rm "$S/hourly.sql" || t_fail "rm of hourly.sql"
t_done
