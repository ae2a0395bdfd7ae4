#!/usr/bin/env bash
# The daemon under valgrind: a few tasks of each kind, then SIGTERM; the
# shutdown frees everything and valgrind reports no error.
. "$SRCDIR/e2e/lib.sh"

command -v valgrind >/dev/null || { t_skip "valgrind run" "valgrind is not installed"; t_done; }
# A sanitizer build cannot run under valgrind.
if nm -D "$PGQFS" 2>/dev/null | grep __asan_init >/dev/null; then
	[ -x "${PGQFS_PLAIN:-}" ] || { t_skip "valgrind run" "the build uses ASan; set PGQFS_PLAIN"; t_done; }
	PGQFS=$PGQFS_PLAIN
fi
REAL=$PGQFS
VG_LOG=$E2E_TMP/valgrind.log
WRAP=$E2E_TMP/pgqfs-vg
cat >"$WRAP" <<EOF2
#!/bin/sh
exec valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --log-file=$VG_LOG "$REAL" "\$@"
EOF2
chmod +x "$WRAP"
PGQFS=$WRAP
PGQFS_START_TIMEOUT=60
PGQFS_STOP_TIMEOUT=60

pg_start
pgqfs_start || t_bail "daemon did not start under valgrind"
W=$E2E_TMP/work
mkdir -p "$W"
echo "SELECT g, 'v' || g FROM generate_series(1, 3000) g;" >"$W/rows.sql"
echo "SELECT * FROM missing_table;" >"$W/fail.sql"
printf 'COPY (SELECT 1) TO STDOUT;\nDO $$ BEGIN RAISE NOTICE %s; END $$;\n' "'n'" >"$W/copy.sql"
for f in rows fail copy; do
	id=$(new_id)
	submit default "$W/$f.sql" "$id.sql"
	t_like "$(task_wait "$id" 60)" '^(done|failed)$' "$f task ends under valgrind"
	cat "$MNT/tasks/$id/result" "$MNT/tasks/$id/log" "$MNT/tasks/$id/info" >/dev/null
done
# Task control, groups, schedules, metrics, progress and a reload: the
# rooms added since, with what they allocate and free.
a=$(new_id)
printf -- '-- pgqfs: retries=1 retry_delay=10ms priority=-3 timeout=60s\nSELECT 1 AS x;\n' >"$W/opt.sql"
submit default "$W/opt.sql" "$a.sql"
b=$(new_id)
printf -- '-- pgqfs: after=%s single_transaction=on\nSELECT 2 AS y;\nSELECT 3 AS z;\n' "$a" >"$W/dep.sql"
submit default "$W/dep.sql" "$b.sql"
t_is "$(task_wait "$b" 60)" done "a task with header options and a dependency ends under valgrind"
cat "$MNT/tasks/$b/result.json" "$MNT/tasks/$b/info" >/dev/null
g=$(new_id)
{ echo '-- pgqfs: group=statements'; for k in $(seq 20); do echo "SELECT $k;"; done; } >"$W/group.sql"
submit fast "$W/group.sql" "$g.sql"
t_is "$(task_wait "$g" 90)" done "a group ends under valgrind"
cat "$MNT/tasks/$g/result" >/dev/null
s=$(new_id)
echo "SELECT pg_sleep(30);" >"$W/sleep.sql"
submit default "$W/sleep.sql" "$s.sql"
wait_file_content "$MNT/tasks/$s/state" running 60 || true
sleep 1.5
cat "$MNT/tasks/$s/progress" "$MNT/metrics" >/dev/null
echo 1 >"$MNT/tasks/$s/cancel"
t_is "$(task_wait "$s" 60)" cancelled "a running task cancelled by id under valgrind"
echo 2 >"$MNT/pools/default/max_workers"
printf -- '-- pgqfs: every=1s\nSELECT 1;\n' >"$W/tick.sql"
cp "$W/tick.sql" "$MNT/schedules/default/tick.sql"
sleep 2.5
rm -f "$MNT/schedules/default/tick.sql"
printf '\n[pool extra]\ntarget = main\nmax_workers = 1\n' >>"$E2E_TMP/main.conf"
kill -HUP "${PGQFS_PID[main]}"
wait_until 30 test -d "$MNT/queue/extra" || true
t_ok "a reload under valgrind adds a pool" test -d "$MNT/queue/extra"
ls -lR "$MNT" >/dev/null
echo "SELECT 1;" >"$MNT/queue/default/.staging"
cat "$MNT/stats" >/dev/null
pgqfs_stop main
t_ok "the daemon ran under valgrind (its log exists)" test -e "$VG_LOG"
t_is "$(grep -c . "$VG_LOG")" 0 "valgrind reports nothing (no error, no leak)"
[ -s "$VG_LOG" ] && t_diag_file "$VG_LOG" 60
t_done
