#!/usr/bin/env bash
# `progress` (DESIGN.md, Operations): while a task runs, tasks/ID/progress
# (and running/ID/progress) says statement i of n and the rows so far, and
# the server's pg_stat_progress_* row of its backend (a CREATE INDEX on 3
# million rows shows command= and phase=); the statement number advances
# through a file; once the task has ended, the file is empty (it stays
# listed: a script polling it never meets a missing file).
E2E_TIMEOUT=${E2E_TIMEOUT:-240}
. "$SRCDIR/e2e/lib.sh"

# Daemon b shares the queue but has its own target "main": a listener
# that never answers; its pool takes none of main's tasks.
pgqfs_config() {
	if [ "$1" = b ]; then
		cat <<EOF
[pgqfs]
control = $PGQFS_CONTROL
schema = pgqfs
request_timeout = 2s
connect_timeout = 30s

[target main]
conninfo = host=127.0.0.1 port=$BLACKHOLE_PORT dbname=app
max_workers = 1

[pool other]
target = main
max_workers = 1
EOF
	else
		pgqfs_default_config "$@"
	fi
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# t_line TEXT ERE DESC: a line of TEXT is exactly ERE.
t_line() {
	if printf '%s\n' "$1" | grep -Ex -- "$2" >/dev/null; then
		t_pass "$3"
	else
		t_fail "$3"
		t_diag "  want a line: $2" "  in: $1"
	fi
}

# ------------------------------------------------ CREATE INDEX
# An expression index on 3 million rows, without parallel workers: slow
# enough to be seen at work (seconds).
cat >"$W/index.sql" <<'EOF'
CREATE TABLE big AS SELECT i FROM pg_catalog.generate_series(1, 3000000) AS i;
SET max_parallel_maintenance_workers = 0;
CREATE INDEX big_md5 ON big (md5(i::text));
EOF
id=$(new_id)
submit default "$W/index.sql" "$id.sql" || t_bail "cannot submit"
t_like "$(ls "$MNT/tasks/$id")" '(^|[[:space:]])progress([[:space:]]|$)' \
	"progress is listed in the task directory"
seen=
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ]; do
	p=$(cat "$MNT/tasks/$id/progress") || { t_fail "reading progress failed"; break; }
	if grep -qx 'command=CREATE INDEX' <<<"$p" && grep -qx 'statement=3' <<<"$p"; then
		seen=$p
		break
	fi
	case $(cat "$MNT/tasks/$id/state") in done|failed|cancelled) break ;; esac
	sleep 0.1
done
if [ -n "$seen" ]; then
	t_pass "progress shows command=CREATE INDEX while statement 3 runs"
	t_diag "$seen"
	t_line "$seen" 'phase=[a-z].*' "progress has the server's phase= line"
	t_is "$(head -n 3 <<<"$seen" | sed 's/=.*//' | tr '\n' ' ')" "statement statements rows " \
		"statement=, statements=, rows= come first"
	t_line "$seen" 'statements=3' "statements=3"
	t_line "$seen" 'rows=[0-9]+' "rows= is a number"
	t_is "$(sed -n '4,5p' <<<"$seen" | sed 's/=.*//' | tr '\n' ' ')" "command phase " \
		"then command= and phase="
	t_line "$seen" 'blocks_total=[0-9]+' "a numeric column of the view: blocks_total="
	t_line "$seen" 'tuples_done=[0-9]+' "a numeric column of the view: tuples_done="
	t_ok "no line but key=value" bash -c "! grep -vE '^[a-z_]+=' <<<\"\$1\"" _ "$seen"
else
	t_fail "progress shows command=CREATE INDEX while statement 3 runs (within 60 s)"
	t_diag "last read: $p" "state: $(cat "$MNT/tasks/$id/state")"
fi
# The same file under running/ while it still runs.
if [ "$(cat "$MNT/tasks/$id/state")" = running ]; then
	t_like "$(cat "$MNT/running/$id/progress" 2>&1)" $'^statement=' "running/ID/progress reads the same"
else
	t_skip "running/ID/progress reads the same" "the index was built already"
fi
t_is "$(task_wait "$id" 120)" done "the index task is done"
t_is "$(cat "$MNT/tasks/$id/progress")" "" "progress of an ended task is empty"
t_is "$(stat -c %s "$MNT/tasks/$id/progress")" 0 "its size is 0"
t_like "$(ls "$MNT/done/$id")" 'progress' "and it is still listed"

# ------------------------------------------------ the statement advances
cat >"$W/steps.sql" <<'EOF'
SELECT pg_sleep(2);
SELECT g FROM pg_catalog.generate_series(1, 5) AS g;
SELECT pg_sleep(2);
SELECT pg_sleep(2);
EOF
id=$(new_id)
submit default "$W/steps.sql" "$id.sql" || t_bail "cannot submit"
wait_file_content "$MNT/tasks/$id/state" running 20 || t_fail "the steps task runs"
stmts=
rows_at_4=
while [ "$(cat "$MNT/tasks/$id/state")" = running ]; do
	p=$(cat "$MNT/tasks/$id/progress")
	s=$(sed -n 's/^statement=//p' <<<"$p")
	[ -n "$s" ] && [ "${stmts##* }" != "$s" ] && stmts="$stmts $s"
	[ "$s" = 4 ] && rows_at_4=$(sed -n 's/^rows=//p' <<<"$p")
	n=$(sed -n 's/^statements=//p' <<<"$p")
	[ -z "$s" ] || [ "$n" = 4 ] || t_fail "statements=4 (read: $n)"
	grep -q '^command=' <<<"$p" && t_fail "no command= line for pg_sleep (read: $p)"
	sleep 0.1
done
t_diag "statements seen:$stmts"
t_like "$stmts" '^ 1( 2)? 3 4$' "statement advances 1, (2,) 3, 4, never back"
# Rows so far, as `info` counts them: pg_sleep's one row each, and 5.
t_is "$rows_at_4" 7 "rows=7 in statement 4 (1 + 5 + 1 rows before it)"
t_is "$(task_wait "$id" 30)" done "the steps task is done"

# ------------------------------------------------ a target that never answers
# Daemon b reads the progress of main's task from its own target "main",
# which never answers: the open still returns within request_timeout (2 s,
# shorter than b's connect_timeout), with the statement lines only.
tcp_blackhole
pgqfs_start b || t_bail "daemon b did not start"
echo "SELECT pg_sleep(30);" >"$W/sleep.sql"
id=$(new_id)
submit default "$W/sleep.sql" "$id.sql" || t_bail "cannot submit"
wait_file_content "$MNT/tasks/$id/state" running 20 || t_fail "the sleep task runs"
wait_until 10 grep -qx 'statement=1' "$MNT/tasks/$id/progress" ||
	t_fail "main's progress says statement=1"
start=$(date +%s%N)
p=$(cat "$(mnt b)/tasks/$id/progress")
ms=$((($(date +%s%N) - start) / 1000000))
t_diag "b's progress read took $ms ms"
t_ok "b's read returns within request_timeout and some slack ($ms ms <= 4000)" test "$ms" -le 4000
t_line "$p" 'statement=1' "b's progress has the statement lines"
t_ok "and no command= (the target did not answer)" bash -c "! grep -q '^command=' <<<\"\$1\"" _ "$p"
t_like "$(cat "${PGQFS_LOG[b]}")" 'progress: target main: connect timed out' "b's log says why"
echo 1 >"$MNT/tasks/$id/cancel"
task_wait "$id" 30 >/dev/null

# ------------------------------------------------ a queued task
cat >"$W/hold.sql" <<'EOF'
-- pgqfs: not_before=2099-01-01T00:00:00Z
SELECT 1;
EOF
hid=$(new_id)
submit default "$W/hold.sql" "$hid.sql" || t_bail "cannot submit"
t_is "$(cat "$MNT/tasks/$hid/progress")" "" "progress of a queued task is empty"
echo 1 >"$MNT/tasks/$hid/cancel"

t_done
