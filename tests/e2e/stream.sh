#!/usr/bin/env bash
# Streamed output: a large result is byte-identical to psql's, readable at
# any offset, visible while the task runs; rows of a statement that fails
# after some were stored are dropped (as psql prints none of them).
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# ~24 MB over many chunks, with quoting and NULLs along the way.
cat >"$W/big.sql" <<'SQL'
SELECT g AS n, repeat(chr(97 + g % 26), 200) || CASE WHEN g % 7 = 0 THEN ',"q"' ELSE '' END AS txt,
       CASE WHEN g % 11 = 0 THEN NULL ELSE g * 1.5 END AS maybe
FROM generate_series(1, 100000) g;
SQL
psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f "$W/big.sql" >"$W/big.want"
id=$(new_id)
submit default "$W/big.sql" "$id.sql"
t_is "$(task_wait "$id" 120)" done "the large task is done"
t_cmp "$W/big.want" "$MNT/done/$id/result" "its result is byte-identical to psql's ($(stat -c %s "$W/big.want") bytes)"
t_is "$(stat -c %s "$MNT/done/$id/result")" "$(stat -c %s "$W/big.want")" "stat shows the true size"
t_is "$(tail -c 1000 "$MNT/done/$id/result" | md5sum)" "$(tail -c 1000 "$W/big.want" | md5sum)" \
	"tail -c reads the end"
t_is "$(dd if="$MNT/done/$id/result" bs=1 skip=1000003 count=70000 2>/dev/null | md5sum)" \
	"$(dd if="$W/big.want" bs=1 skip=1000003 count=70000 2>/dev/null | md5sum)" \
	"a read at an odd offset across chunk boundaries"
t_like "$(grep '^rows=' "$MNT/done/$id/info")" '^rows=100000$' "info counts the rows"

# Chunks are written at 64 KiB, and read back at any size up to the 128 KiB
# that daemons before the nineteenth session wrote: the same result, cut
# into 128 KiB chunks in the control database, reads the same after a
# restart (no page cache).
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT max(length(data)) FROM pgqfs.chunk
	WHERE task = $id AND stream = 0")" 65536 "the result is stored in 64 KiB chunks"
psql_ref -q -d pgqfs_ctl -v ON_ERROR_STOP=1 \
	-c "CREATE TEMP TABLE whole AS SELECT string_agg(data, ''::bytea ORDER BY off) AS d
	    FROM pgqfs.chunk WHERE task = $id AND stream = 0;
	    DELETE FROM pgqfs.chunk WHERE task = $id AND stream = 0;
	    INSERT INTO pgqfs.chunk SELECT $id, 0, g * 131072, substring(w.d FROM g * 131072 + 1 FOR 131072)
	    FROM whole w, generate_series(0, (length(w.d) - 1) / 131072) g;" ||
	t_fail "cannot cut the result into 128 KiB chunks"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT max(length(data)) FROM pgqfs.chunk
	WHERE task = $id AND stream = 0")" 131072 "cut again into 128 KiB chunks"
pgqfs_stop
pgqfs_start || t_bail "daemon did not start again"
t_cmp "$W/big.want" "$MNT/done/$id/result" "read from 128 KiB chunks, it is psql's result still"
t_is "$(dd if="$MNT/done/$id/result" bs=1 skip=1000003 count=70000 2>/dev/null | md5sum)" \
	"$(dd if="$W/big.want" bs=1 skip=1000003 count=70000 2>/dev/null | md5sum)" \
	"and so is a read at an odd offset across their boundaries"

# A statement that fails after more than a chunk of its rows were stored.
cat >"$W/midfail.sql" <<'SQL'
SELECT 'before' AS ok;
SELECT g, repeat('y', 300) AS pad, 1 / (150000 - g) AS boom FROM generate_series(1, 200000) g;
SQL
(cd "$W" && cp midfail.sql query.sql && psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f query.sql \
	>midfail.want 2>midfail.err)
id=$(new_id)
submit default "$W/midfail.sql" "$id.sql"
t_is "$(task_wait "$id" 120)" failed "the task failing mid-result is failed"
t_cmp "$W/midfail.want" "$MNT/failed/$id/result" "no row of the failed statement stays (as with psql)"
t_is "$(head -n 1 "$MNT/failed/$id/error")" "$(head -n 1 "$W/midfail.err")" "the error is psql's"

# Output is visible while the task runs.
cat >"$W/slow.sql" <<'SQL'
SELECT g, repeat('z', 1000) FROM generate_series(1, 300) g;
SELECT pg_sleep(4);
SELECT 'end' AS e;
SQL
id=$(new_id)
submit default "$W/slow.sql" "$id.sql"
grows() { [ "$(stat -c %s "$MNT/running/$id/result" 2>/dev/null || echo 0)" -gt 300000 ]; }
t_ok "while it runs, running/ID/result shows the rows so far" wait_until 4 grows
t_like "$(cat "$MNT/running/$id/log")" 'started on target main' "and its log shows it started"
t_like "$(grep '^backend_pid=' "$MNT/running/$id/info")" '^backend_pid=[0-9]+$' "info has the backend pid"
t_is "$(task_wait "$id" 30)" done "then it finishes"
t_is "$(tail -n 1 "$MNT/done/$id/result")" "end" "with all its output"

t_done
