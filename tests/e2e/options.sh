#!/usr/bin/env bash
# The `-- pgqfs:` header (DESIGN.md, Task control): bad headers fail at
# once naming line and key; `info` shows the options in effect; the same
# file runs unchanged under psql; priority orders starts in a busy
# one-worker pool; a per-task timeout cancels on the server and keeps what
# was printed; single_transaction behaves like `psql -1`.
E2E_TIMEOUT=${E2E_TIMEOUT:-150}
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool one]\ntarget = main\nmax_workers = 1\n'
	printf '\n[pool short]\ntarget = main\nmax_workers = 2\ntimeout = 1s\n'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

app() { psql_ref -d app -qtA -v ON_ERROR_STOP=1 "$@"; }
ms() { iso_ms "$1"; }
# ref DIR [PSQL-OPTIONS...]: the reference psql on DIR/query.sql, run in
# DIR so that its messages name query.sql as pgqfs's error does.
ref() {
	local dir=$1
	shift
	(cd "$dir" && psql_ref -q --csv -v ON_ERROR_STOP=1 "$@" -f query.sql -d app)
}
# ref_sqlstate DIR [PSQL-OPTIONS...]: the SQLSTATE of the error psql hits.
ref_sqlstate() {
	local dir=$1
	shift
	ref "$dir" "$@" -v VERBOSITY=sqlstate 2>&1 >/dev/null |
		sed -n 's/^psql:query\.sql:[0-9]*: ERROR:  \([0-9A-Z]\{5\}\)$/\1/p'
}

app -c 'CREATE TABLE ran (what text)' \
	-c 'CREATE TABLE go (x int)' \
	-c 'CREATE TABLE prio_order (seq serial, id bigint, prio int)' \
	-c 'CREATE TABLE st (i int)' || t_bail "cannot create the test tables"

# ------------------------------------------------------------ bad headers
# Each file would insert a row into `ran`: none may appear.  Cases:
# NAME|LINE|KEY|file text (printf format).
bad_cases=(
	'typo|2|priorty|-- a nightly job\n-- pgqfs: priorty=1\nINSERT INTO ran VALUES (%s);\n'
	'prio_high|1|priority|-- pgqfs: priority=5000\nINSERT INTO ran VALUES (%s);\n'
	'prio_low|1|priority|-- pgqfs: priority=-1001\nINSERT INTO ran VALUES (%s);\n'
	'timeout_word|3|timeout|-- pgqfs: priority=1\n\n-- pgqfs: timeout=abc\nINSERT INTO ran VALUES (%s);\n'
	'retries_big|1|retries|-- pgqfs: retries=101\nINSERT INTO ran VALUES (%s);\n'
	'retry_delay|2|retry_delay|-- x\n-- pgqfs: retries=2 retry_delay=soon\nINSERT INTO ran VALUES (%s);\n'
	'st_maybe|1|single_transaction|-- pgqfs: single_transaction=maybe\nINSERT INTO ran VALUES (%s);\n'
	'nb_word|4|not_before|-- pgqfs: priority=2\n-- comment\n\n-- pgqfs: retries=1 not_before=yesterday\nINSERT INTO ran VALUES (%s);\n'
	'after_word|1|after|-- pgqfs: after=abc\nINSERT INTO ran VALUES (%s);\n'
	'every_here|2|every|\n-- pgqfs: every=1h\nINSERT INTO ran VALUES (%s);\n'
)
declare -A bad_id=()
t0=$(now_ms)
for c in "${bad_cases[@]}"; do
	IFS='|' read -r name line key fmt <<<"$c"
	# shellcheck disable=SC2059 # the format is the case's file text
	printf -- "$fmt" "'$name'" >"$W/bad_$name.sql"
	bad_id[$name]=$(new_id)
	submit default "$W/bad_$name.sql" "${bad_id[$name]}.sql" ||
		t_fail "submit bad_$name"
done
for c in "${bad_cases[@]}"; do
	IFS='|' read -r name line key fmt <<<"$c"
	i=${bad_id[$name]}
	t_is "$(task_wait "$i" 20)" failed "bad header $name (line $line, $key): the task fails"
	err=$(cat "$MNT/tasks/$i/error")
	t_like "$err" "line $line([^0-9]|\$)" "bad header $name: error names line $line" ||
		t_diag "error: $err"
	t_like "$err" "$key" "bad header $name: error names the key $key"
	t_is "$(info_of "$i" started_at)" "" "bad header $name: nothing was sent to the target (no started_at)"
done
elapsed=$(($(now_ms) - t0))
t_ok "the bad headers failed at once (all within ${elapsed} ms)" test "$elapsed" -lt 8000
t_is "$(app -c 'SELECT count(*) FROM ran')" 0 "no file with a bad header ran any statement"

# A `-- pgqfs:` comment after the first statement is no header: a comment.
printf 'SELECT 1 AS one;\n-- pgqfs: priorty=1\nSELECT 2 AS two;\n' >"$W/late.sql"
i=$(new_id)
submit default "$W/late.sql" "$i.sql"
t_is "$(task_wait "$i" 20)" done "a pgqfs: line after the first statement is a comment, not a header"

# ------------------------------------------------------------ info, psql
plain=$(new_id)
printf 'SELECT 1 AS plain;\n' >"$W/plain.sql"
submit default "$W/plain.sql" "$plain.sql"
t_is "$(task_wait "$plain" 20)" done "a file without a header is done"
t_info "$plain" 'priority=0' "info of a file without header: priority=0"
t_info "$plain" 'retries=0' "info: retries=0"
t_info "$plain" 'retry_delay=(1s|1000ms)' "info: retry_delay=1s"
t_info "$plain" 'single_transaction=off' "info: single_transaction=off"
t_info "$plain" 'attempt=1' "info: attempt=1"
t_ok "info: no timeout=, after= or not_before= when not given" \
	bash -c "! grep -E '^(timeout|after|not_before)=' '$MNT/tasks/$plain/info'"

# Every option, over two header lines with a blank line and another
# comment between; the header is a comment to psql.
mkdir -p "$W/all"
cat >"$W/all/query.sql" <<EOF
-- nightly report
-- pgqfs: priority=-5 timeout=30s retries=2 retry_delay=250ms

-- owner: ops
-- pgqfs: single_transaction=on not_before=2020-01-01T00:00:00Z after=$plain
SELECT 'hello' AS greeting, 42 AS answer;
-- pgqfs: priority=7
SELECT n FROM generate_series(1, 3) AS n;
EOF
ref "$W/all" >"$W/all/want.out" 2>"$W/all/want.err"
t_is "$?" 0 "reference: psql runs the file with a header unchanged" ||
	t_diag_file "$W/all/want.err"
all=$(new_id)
submit default "$W/all/query.sql" "$all.sql"
t_is "$(task_wait "$all" 20)" done "the file with every option is done"
t_cmp "$W/all/want.out" "$MNT/tasks/$all/result" "its result is what psql printed for the same file"
t_info "$all" 'priority=-5' "info: priority=-5"
t_info "$all" 'timeout=(30s|30000ms)' "info: timeout=30s"
t_info "$all" 'retries=2' "info: retries=2"
t_info "$all" 'retry_delay=250ms' "info: retry_delay=250ms"
t_info "$all" 'single_transaction=on' "info: single_transaction=on"
t_info "$all" 'not_before=2020-01-01T00:00:00(Z|\+00:00|\+00)' "info: not_before=2020-01-01T00:00:00Z"
t_info "$all" "after=$plain" "info: after=$plain"
t_ok "info: nothing waited for once done (no waits_for=, waits_until=)" \
	bash -c "! grep -E '^waits_(for|until)=' '$MNT/tasks/$all/info'"

# ------------------------------------------------------------ priority
# Pool "one" (one worker) is held by a gate task until a row is in `go`;
# meanwhile tasks with shuffled priorities queue up.  Each records its
# start by inserting into prio_order, whose serial gives the order.
cat >"$W/gate.sql" <<'EOF'
DO $$
BEGIN
	FOR i IN 1..1200 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM go);
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
EOF
gate=$(new_id)
submit one "$W/gate.sql" "$gate.sql"
t_ok "the gate task holds pool one's only worker" \
	wait_file_content "$MNT/tasks/$gate/state" running 20
prios=(3 -2 0 1000 -1000 3 0 7 -2 500 0 -999 none 0 -2)
want=
prio_ids=()
for p in "${prios[@]}"; do
	i=$(new_id)
	prio_ids+=("$i")
	if [ "$p" = none ]; then	# no header: priority 0
		p=0
		printf 'INSERT INTO prio_order (id, prio) VALUES (%s, %s);\n' "$i" "$p" >"$W/p.sql"
	else
		printf -- '-- pgqfs: priority=%s\nINSERT INTO prio_order (id, prio) VALUES (%s, %s);\n' \
			"$p" "$i" "$p" >"$W/p.sql"
	fi
	submit one "$W/p.sql" "$i.sql" || t_fail "submit priority $p as $i"
	want+="$p|$i"$'\n'
	last=$i
done
want=$(printf '%s' "$want" | sort -t '|' -k1,1n -k2,2n)
# A task becomes runnable at `release`, which FUSE sends after cp has
# returned: let every submission settle before opening the gate.
queued_n() { [ "$(ls "$MNT/queue/one" | wc -l)" -eq "${#prios[@]}" ]; }
t_ok "all ${#prios[@]} tasks are listed in queue/one/ behind the gate" wait_until 10 queued_n
staged_n() { [ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE state = 'staged'" 2>/dev/null)" = 0 ]; }
wait_until 5 staged_n
sleep 0.5
t_is "$(info_of "$gate" state)" running "the gate still runs while the queue fills"
app -c 'INSERT INTO go VALUES (1)'
# The last submitted is not the last to start (priority -2): wait for all.
prio_states=
for i in "${prio_ids[@]}"; do
	prio_states+="$(task_wait "$i" 60) "
done
t_is "$prio_states" "$(printf 'done %.0s' "${prio_ids[@]}")" "every task of the queue is done"
got=$(app -c 'SELECT prio, id FROM prio_order ORDER BY seq')
t_is "$got" "$want" "tasks started in (priority, submission) order"
t_info "$last" 'priority=-2' "info shows the task's priority"

# ------------------------------------------------------------ timeout
mkdir -p "$W/to"
printf -- '-- pgqfs: timeout=700ms\nSELECT 1 AS first;\nSELECT %s AS second;\n' "'two'" >"$W/to/query.sql"
ref "$W/to" >"$W/to/want.out" 2>"$W/to/want.err" || t_diag_file "$W/to/want.err"
printf 'SELECT pg_sleep(10);\nSELECT 3 AS never;\n' >>"$W/to/query.sql"
to=$(new_id)
t0=$(now_ms)
submit default "$W/to/query.sql" "$to.sql"
t_is "$(task_wait "$to" 20)" failed "timeout=700ms on a 10 s sleep: failed"
elapsed=$(($(now_ms) - t0))
t_ok "it ended well before the sleep would have (${elapsed} ms after submission)" test "$elapsed" -lt 4000
dur=$(info_of "$to" duration_ms)
# (690: started_at and the timer need not be read in the same millisecond.)
t_ok "it was not cut short: ran about 700 ms at least (duration_ms=$dur)" test "${dur:-0}" -ge 690
t_ok "and ended within a few hundred ms of the limit (duration_ms=$dur)" test "${dur:-99999}" -le 1300
err=$(cat "$MNT/tasks/$to/error")
t_like "$err" 'timed out' "its error says it timed out"
t_like "$err" 'psql:query\.sql:4: ERROR: ' "with psql's message for the statement on line 4"
t_like "$err" '^SQLSTATE: 57014$' "and SQLSTATE 57014 on its own line"
t_cmp "$W/to/want.out" "$MNT/tasks/$to/result" "the output printed before the timeout is kept (as psql printed it)"
t_info "$to" 'timeout=700ms' "info: timeout=700ms"
active() {
	app -c "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND query LIKE '%SELECT pg_sleep(10)%' AND state = 'active'"
}
t_is "$(active)" 0 "the statement no longer runs on the server"

# A task's timeout overrides its pool's (short: 1 s).
printf -- '-- pgqfs: timeout=5s\nSELECT pg_sleep(1.6), %s AS msg;\n' "'longer'" >"$W/over.sql"
over=$(new_id)
submit short "$W/over.sql" "$over.sql"
t_is "$(task_wait "$over" 20)" done "timeout=5s lets a task outlive its pool's 1 s timeout"

# ------------------------------------------------------------ single_transaction
# run_st NAME PSQL-OPTS: the file $W/NAME/query.sql under psql (with
# PSQL-OPTS), then as a task; the table `st` starts empty each time and
# ends the same; result and error are psql's.
run_st() {
	local name=$1 d=$W/$1 opts=$2 rc state id code want_st
	app -c 'TRUNCATE st'
	# shellcheck disable=SC2086 # opts is a list of options
	ref "$d" $opts >"$d/want.out" 2>"$d/want.err"
	rc=$?
	want_st=$(app -c 'SELECT coalesce(string_agg(i::text, $$,$$ ORDER BY i), $$-$$) FROM st')
	if [ "$rc" -eq 0 ]; then
		state=done
	else
		state=failed
		app -c 'TRUNCATE st'
		# shellcheck disable=SC2086
		code=$(ref_sqlstate "$d" $opts)
		cp -- "$d/want.err" "$d/want.error"
		printf 'SQLSTATE: %s\n' "$code" >>"$d/want.error"
	fi
	app -c 'TRUNCATE st'
	id=$(new_id)
	submit default "$d/query.sql" "$id.sql"
	t_is "$(task_wait "$id" 20)" "$state" "$name: the task is $state, as under psql $opts"
	t_is "$(app -c 'SELECT coalesce(string_agg(i::text, $$,$$ ORDER BY i), $$-$$) FROM st')" \
		"$want_st" "$name: table st holds what psql $opts left ($want_st)"
	t_cmp "$d/want.out" "$MNT/tasks/$id/result" "$name: result is what psql $opts printed"
	[ "$state" = failed ] &&
		t_cmp "$d/want.error" "$MNT/tasks/$id/error" "$name: error is what psql $opts printed, then the SQLSTATE"
	return 0
}
mkdir -p "$W/st_fail" "$W/st_off" "$W/st_ok" "$W/st_vacuum"
cat >"$W/st_fail/query.sql" <<'EOF'
-- pgqfs: single_transaction=on
INSERT INTO st VALUES (1);
SELECT 'inserted' AS x;
INSERT INTO st VALUES (2);
SELECT 1 / 0;
INSERT INTO st VALUES (3);
EOF
sed 's/single_transaction=on/single_transaction=off/' "$W/st_fail/query.sql" >"$W/st_off/query.sql"
cat >"$W/st_ok/query.sql" <<'EOF'
-- pgqfs: single_transaction=on
INSERT INTO st VALUES (7);
INSERT INTO st VALUES (8);
SELECT i FROM st ORDER BY i;
EOF
cat >"$W/st_vacuum/query.sql" <<'EOF'
-- pgqfs: single_transaction=on
SELECT 1 AS one;
VACUUM st;
EOF
run_st st_fail -1
t_is "$(app -c 'SELECT count(*) FROM st')" 0 "single_transaction=on: an error rolls back every insert"
run_st st_off ""
run_st st_ok -1
run_st st_vacuum -1
t_like "$(cat "$W/st_vacuum/want.error")" 'VACUUM cannot run inside a transaction block' \
	"reference: psql -1 refuses VACUUM"

t_done
