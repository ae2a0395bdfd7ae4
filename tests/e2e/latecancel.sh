#!/usr/bin/env bash
# A cancel or a timeout that comes after a task's last statement has ended
# on the server, before the daemon has read its end, stops nothing: what
# committed stays, and the task is done, with psql's result (reported as
# cancelled or failed, it would invite running it again).  The target is
# reached through a TCP proxy of the test's own: stopped with SIGSTOP
# while the statement runs, it holds the statement's end until the cancel,
# or the timeout, has been heard.  A cancel that comes between two
# statements still cancels the task.
. "$SRCDIR/e2e/lib.sh"

pg_start
tcp_proxy proxy
pgqfs_config() {
	pgqfs_default_config "$@"
	cat <<EOT

[target proxied]
conninfo = host=127.0.0.1 port=$PROXY_PORT dbname=app user=postgres
max_workers = 4

[pool px]
target = proxied
max_workers = 2

[pool pt]
target = proxied
max_workers = 2
timeout = 3s
EOT
}
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
psql_ref -d app -q <<'SQL' || t_bail "cannot create the tables"
CREATE TABLE late (k text PRIMARY KEY);
-- A row of late_tx makes its transaction's COMMIT sleep 1.5 s.
CREATE TABLE late_tx (k text PRIMARY KEY);
CREATE FUNCTION late_sleep() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER late_commit AFTER INSERT ON late_tx
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION late_sleep();
SQL
activity() {
	psql_ref -d app -tAX -c "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND $1"
}
sleeping() { [ "$(activity "(query LIKE '%pg_sleep(%' OR query = 'COMMIT') AND state = 'active'")" = "$1" ]; }
logged() { grep -q -- "$2" "$MNT/tasks/$1/log"; }
# committed TABLE K: whether row K of TABLE is committed.
committed() { psql_ref -d app -tAX -c "SELECT count(*) FROM $1 WHERE k = '$2'"; }
# psql_result TABLE K FILE: psql's result for FILE, once row K is gone.
psql_result() {
	psql_ref -d app -qc "DELETE FROM $1 WHERE k = '$2'" && psql_ref -d app -q --csv -v ON_ERROR_STOP=1 -f "$3"
}

# late_end POOL NAME FILE HEARD: submits FILE, stops the proxy while its
# sleep (or its COMMIT) runs, waits for that to end on the server and for
# the task's log to say HEARD (after a cancel write for pool px), then
# lets the proxy go on; prints the task's id.
late_end() {
	local id
	id=$(new_id)
	submit "$1" "$3" "$id.sql" || t_fail "cp of $2"
	wait_until 10 sleeping 1 || t_fail "$2: its statement did not start"
	kill -STOP "$PROXY_PID"
	wait_until 10 sleeping 0 || t_fail "$2: its statement did not end on the server"
	if [ "$1" = px ]; then
		echo 1 >"$MNT/tasks/$id/cancel" || t_fail "$2: the cancel write"
	fi
	wait_until 10 logged "$id" "$4" || t_fail "$2: the daemon did not hear it: $(cat "$MNT/tasks/$id/log")"
	kill -CONT "$PROXY_PID"
	echo "$id"
}

# One statement (sent with its naming and reset in one write), two
# statements, and a single transaction whose COMMIT had ended.
printf "INSERT INTO late VALUES ('one') RETURNING k, pg_sleep(1.5) IS NULL AS slept;\n" >"$W/one.sql"
printf "SELECT 1 AS first;\nINSERT INTO late VALUES ('two') RETURNING k, pg_sleep(1.5) IS NULL AS slept;\n" >"$W/two.sql"
printf -- "-- pgqfs: single_transaction=on\nSELECT 1 AS first;\nINSERT INTO late_tx VALUES ('tx') RETURNING k;\n" >"$W/tx.sql"
for f in one two tx; do
	tbl=late
	[ "$f" = tx ] && tbl=late_tx
	id=$(late_end px "$f.sql" "$W/$f.sql" "cancelling: asked by uid 0")
	t_is "$(task_wait "$id" 20)" done "$f.sql: a cancel heard after its last statement ended leaves it done"
	t_is "$(committed "$tbl" "$f")" 1 "$f.sql: what it committed stays"
	t_like "$(cat "$MNT/done/$id/log")" "its last statement ended before the cancel took effect: nothing was stopped" \
		"$f.sql: its log says the cancel came too late"
	t_is "$(cat "$MNT/done/$id/result")" "$(psql_result "$tbl" "$f" "$W/$f.sql")" \
		"$f.sql: its result is psql's"
done

printf "INSERT INTO late VALUES ('slow') RETURNING k, pg_sleep(2) IS NULL AS slept;\n" >"$W/slow.sql"
id=$(late_end pt slow.sql "$W/slow.sql" "timed out after 3000 ms")
t_is "$(task_wait "$id" 20)" done "a timeout that fires after the last statement ended leaves the task done"
t_is "$(committed late slow)" 1 "what it committed stays"
t_like "$(cat "$MNT/done/$id/log")" "its last statement ended before the timeout took effect: nothing was stopped" \
	"its log says the timeout came too late"
t_is "$(cat "$MNT/done/$id/result")" "$(psql_result late slow "$W/slow.sql")" "its result is psql's"

# Before a single transaction's COMMIT, a cancel still cancels: it is
# rolled back.  Between two statements too: the second never runs.
printf -- "-- pgqfs: single_transaction=on\nINSERT INTO late VALUES ('open') RETURNING k, pg_sleep(1.5) IS NULL AS slept;\n" >"$W/open.sql"
id=$(late_end px open.sql "$W/open.sql" "cancelling: asked by uid 0")
t_is "$(task_wait "$id" 20)" cancelled "a cancel heard before a single transaction's COMMIT cancels the task"
t_is "$(committed late open)" 0 "its transaction was rolled back"
printf "INSERT INTO late VALUES ('first') RETURNING k, pg_sleep(1.5) IS NULL AS slept;\nINSERT INTO late VALUES ('second');\n" >"$W/mid.sql"
id=$(late_end px mid.sql "$W/mid.sql" "cancelling: asked by uid 0")
t_is "$(task_wait "$id" 20)" cancelled "a cancel heard between two statements cancels the task"
t_like "$(cat "$MNT/failed/$id/error")" "cancelled by uid 0" "its error says who cancelled it"
t_is "$(committed late first)/$(committed late second)" 1/0 "its first statement committed, its second never ran"
t_done
