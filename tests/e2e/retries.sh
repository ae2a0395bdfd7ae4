#!/usr/bin/env bash
# retries= and retry_delay= (DESIGN.md, Task control): a transient failure
# (SQLSTATE 40001, 40P01, 55P03, ...) runs the whole file again, up to
# `retries` more times, after retry_delay x 2^(n-2) +-20%; a permanent one
# is never retried; `attempt` counts; result and error are those of the
# latest attempt; the log has a start line per attempt; between attempts
# the task is `queued` and says until when it waits.
E2E_TIMEOUT=${E2E_TIMEOUT:-150}
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

app() { psql_ref -d app -qtA -v ON_ERROR_STOP=1 "$@"; }
ms() { iso_ms "$1"; }
# starts ID: the times (ms) of the log's start lines, one per attempt
# (lines saying "started", not "not started" and the like).
starts() {
	local t
	grep -w started "$MNT/tasks/$1/log" | grep -vEw 'not|never|without' |
		while read -r t _; do ms "$t"; done
}
# t_backoff ID DELAY_MS DESC: attempt n (n >= 2) started no sooner than
# DELAY_MS x 2^(n-2) - 20% after attempt n-1 did, and not absurdly later
# (+20% and 1.5 s of slack for a busy machine).
t_backoff() {
	local id=$1 delay=$2 desc=$3 prev='' t n=1 gap lo hi bad=''
	for t in $(starts "$id"); do
		if [ -n "$prev" ]; then
			n=$((n + 1))
			gap=$((t - prev))
			lo=$((delay * (1 << (n - 2)) * 8 / 10))
			hi=$((delay * (1 << (n - 2)) * 12 / 10 + 1500))
			[ "$gap" -ge "$lo" ] && [ "$gap" -le "$hi" ] ||
				bad+=" attempt $n: ${gap} ms after the previous start (want $lo..$hi);"
			t_diag "task $id: attempt $n started $gap ms after attempt $((n - 1))"
		fi
		prev=$t
	done
	if [ "$n" -lt 2 ]; then
		t_fail "$desc (only $n start line in the log)"
	elif [ -n "$bad" ]; then
		t_fail "$desc:$bad"
	else
		t_pass "$desc"
	fi
}
# ref_file DIR: psql's output and stderr for DIR/query.sql (run in DIR,
# so that its messages name query.sql, as the task's error does).
ref_file() {
	(cd "$1" && psql_ref -q --csv -v ON_ERROR_STOP=1 -f query.sql -d app) \
		>"$1/want.out" 2>"$1/want.err"
}

app -c 'CREATE SEQUENCE s1' -c 'CREATE SEQUENCE s2' -c 'CREATE SEQUENCE s3' \
	-c 'CREATE SEQUENCE s4' -c 'CREATE SEQUENCE s5' -c 'CREATE SEQUENCE s6' ||
	t_bail "cannot create the sequences"

# ------------------------------------------------ 40001 twice, then done
# Each run of the file takes a value of s1: the first two runs fail with
# a serialization failure, the third goes through.
mkdir -p "$W/ser" "$W/ser_ref"
cat >"$W/ser/query.sql" <<'EOF'
-- pgqfs: retries=3 retry_delay=100ms
SELECT 'before' AS b;
DO $$
BEGIN
	IF nextval('s1') <= 2 THEN
		RAISE EXCEPTION 'transient failure' USING ERRCODE = '40001';
	END IF;
END
$$;
SELECT last_value AS runs FROM s1;
EOF
ser=$(new_id)
submit default "$W/ser/query.sql" "$ser.sql"
t_is "$(task_wait "$ser" 30)" done "40001 on two runs, retries=3: the task ends done"
t_info "$ser" 'attempt=3' "info: attempt=3"
t_is "$(app -c 'SELECT last_value FROM s1')" 3 "the file ran three times (s1 = 3)"
t_is "$(starts "$ser" | wc -l)" 3 "the log has a start line for each of the 3 attempts" ||
	t_diag_file "$MNT/tasks/$ser/log"
printf "SELECT 'before' AS b;\nSELECT last_value AS runs FROM s1;\n" >"$W/ser_ref/query.sql"
ref_file "$W/ser_ref"
t_cmp "$W/ser_ref/want.out" "$MNT/tasks/$ser/result" "result is the last attempt's, as psql prints it"
t_ok "a task done at last has no error" test ! -s "$MNT/tasks/$ser/error"
t_backoff "$ser" 100 "retry_delay=100ms: attempt n waits at least 100 ms x 2^(n-2) - 20%"

# ------------------------------------------------ 40P01 always, retries=1
mkdir -p "$W/dl"
cat >"$W/dl/query.sql" <<'EOF'
-- pgqfs: retries=1 retry_delay=100ms
SELECT nextval('s2') AS run;
DO $$
BEGIN
	RAISE EXCEPTION 'deadlock on run %', currval('s2') USING ERRCODE = '40P01';
END
$$;
EOF
dl=$(new_id)
submit default "$W/dl/query.sql" "$dl.sql"
t_is "$(task_wait "$dl" 30)" failed "40P01 on every run, retries=1: the task fails"
t_info "$dl" 'attempt=2' "info: attempt=2 (retries exhausted)"
t_is "$(app -c 'SELECT last_value FROM s2')" 2 "the file ran twice (s2 = 2)"
t_is "$(starts "$dl" | wc -l)" 2 "the log has a start line for each of the 2 attempts" ||
	t_diag_file "$MNT/tasks/$dl/log"
# The reference: psql on the same file, s2 set so that its run is the 2nd.
app -c "SELECT setval('s2', 1)" >/dev/null
ref_file "$W/dl"
printf 'SQLSTATE: 40P01\n' >>"$W/dl/want.err"
t_cmp "$W/dl/want.out" "$MNT/tasks/$dl/result" "result is the last attempt's (run 2), as psql prints it"
t_cmp "$W/dl/want.err" "$MNT/tasks/$dl/error" "error is the last attempt's (run 2), as psql prints it, then SQLSTATE 40P01"

# ------------------------------------------------ permanent errors
# 42P01 with retries=5, and a 40001 without retries= (default 0): one
# run each, even after a while.
cat >"$W/perm.sql" <<'EOF'
-- pgqfs: retries=5 retry_delay=100ms
SELECT nextval('s3');
SELECT * FROM no_such_table;
EOF
cat >"$W/nore.sql" <<'EOF'
SELECT nextval('s4');
DO $$ BEGIN RAISE EXCEPTION 'no retries asked' USING ERRCODE = '40001'; END $$;
EOF
perm=$(new_id)
submit default "$W/perm.sql" "$perm.sql"
nore=$(new_id)
submit default "$W/nore.sql" "$nore.sql"
t_is "$(task_wait "$perm" 30)" failed "42P01 with retries=5: the task fails"
t_is "$(task_wait "$nore" 30)" failed "40001 without retries=: the task fails"
sleep 2	# a wrong retry would have started by now (100 ms, and 1 s)
t_is "$(cat "$MNT/tasks/$perm/state")" failed "42P01: still failed 2 s later"
t_info "$perm" 'attempt=1' "42P01: attempt=1, never retried"
t_is "$(app -c 'SELECT last_value FROM s3')" 1 "42P01: the file ran once"
t_is "$(starts "$perm" | wc -l)" 1 "42P01: one start line in the log"
t_like "$(cat "$MNT/tasks/$perm/error")" '^SQLSTATE: 42P01$' "42P01: the error gives its SQLSTATE"
t_is "$(cat "$MNT/tasks/$nore/state")" failed "no retries=: still failed 2 s later"
t_info "$nore" 'attempt=1' "no retries=: attempt=1"
t_is "$(app -c 'SELECT last_value FROM s4')" 1 "no retries=: the file ran once"

# ------------------------------------------------ exponential back-off
# 55P03 on every run, retries=2 retry_delay=400ms: attempts 2 and 3 wait
# 320..480 and 640..960 ms.
cat >"$W/lock.sql" <<'EOF'
-- pgqfs: retries=2 retry_delay=400ms
SELECT nextval('s5');
DO $$ BEGIN RAISE EXCEPTION 'lock not available' USING ERRCODE = '55P03'; END $$;
EOF
lock=$(new_id)
submit default "$W/lock.sql" "$lock.sql"
t_is "$(task_wait "$lock" 30)" failed "55P03 on every run, retries=2: the task fails"
t_info "$lock" 'attempt=3' "55P03: attempt=3"
t_is "$(app -c 'SELECT last_value FROM s5')" 3 "55P03: the file ran three times"
t_backoff "$lock" 400 "retry_delay=400ms: the delays are 400 ms x 1, then x 2, +-20%"
t_is "$(starts "$lock" | wc -l)" 3 "55P03: a start line per attempt" ||
	t_diag_file "$MNT/tasks/$lock/log"

# ------------------------------------------------ waiting for the next attempt
# A 3 s back-off: meanwhile the task is queued, listed under its name,
# says until when it waits, and `wait` goes on waiting.
cat >"$W/later.sql" <<'EOF'
-- pgqfs: retries=1 retry_delay=3s
DO $$
BEGIN
	IF nextval('s6') = 1 THEN
		RAISE EXCEPTION 'first run fails' USING ERRCODE = '40001';
	END IF;
END
$$;
SELECT 'second run' AS outcome;
EOF
later=$(new_id)
submit default "$W/later.sql" "$later.sql"
task_wait "$later" 30 >"$W/later.wait" 2>&1 &
waiter=$!
has_waits_until() { grep -q '^waits_until=.' "$MNT/tasks/$later/info"; }
# (Not `if t_ok`: t_ok's status is t_diag's.)
if wait_until 10 has_waits_until; then
	t_pass "after the first failure, info shows waits_until="
	t_is "$(cat "$MNT/tasks/$later/state")" queued "between attempts the task is queued"
	t_ok "and listed in queue/default/ under its name" \
		bash -c "ls '$MNT/queue/default' | grep -qx '$later.sql'"
	t_ok "wait has not returned after the first attempt" kill -0 "$waiter"
	until_ms=$(ms "$(info_of "$later" waits_until)")
	first=$(starts "$later" | head -n 1)
	if [ -n "$until_ms" ] && [ -n "$first" ]; then
		d=$((until_ms - first))
		t_ok "waits_until is about 3 s after the first start ($d ms)" \
			test "$d" -ge 1400 -a "$d" -le 4600
	else
		t_fail "waits_until and the first start line are times ('$until_ms', '$first')"
	fi
else
	t_fail "after the first failure, info shows waits_until="
	t_diag_file "$MNT/tasks/$later/info"
fi
wait "$waiter"
t_is "$(cat "$W/later.wait")" done "wait returns done, after the second attempt"
t_info "$later" 'attempt=2' "info: attempt=2"
t_backoff "$later" 3000 "the second attempt started 3 s +-20% after the first"
t_ok "once done, nothing is waited for" bash -c "! grep -q '^waits_until=' '$MNT/tasks/$later/info'"
t_ok "and the task is no longer listed in queue/default/" \
	bash -c "! ls '$MNT/queue/default' | grep -qx '$later.sql'"

t_done
