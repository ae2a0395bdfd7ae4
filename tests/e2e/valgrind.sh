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
ls -lR "$MNT" >/dev/null
echo "SELECT 1;" >"$MNT/queue/default/.staging"
cat "$MNT/stats" >/dev/null
pgqfs_stop main
t_ok "the daemon ran under valgrind (its log exists)" test -e "$VG_LOG"
t_is "$(grep -c . "$VG_LOG")" 0 "valgrind reports nothing (no error, no leak)"
[ -s "$VG_LOG" ] && t_diag_file "$VG_LOG" 60
t_done
