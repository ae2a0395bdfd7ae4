#!/usr/bin/env bash
# after= and not_before= (DESIGN.md, Task control): a task starts only when
# every task it names is done, and never before its time; meanwhile it is
# queued, listed under its name (rm cancels it), `info` says what it waits
# for, and `wait` waits on; a failed or cancelled dependency fails its
# dependents, transitively, without running them; an unknown id fails the
# task at once.
E2E_TIMEOUT=${E2E_TIMEOUT:-150}
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

app() { psql_ref -d app -qtA -v ON_ERROR_STOP=1 "$@"; }
ms() { iso_ms "$1"; }
# id_of NAME: the id of the task submitted as NAME.
id_of() {
	local f
	f=$(grep -lx "name=$1" "$MNT"/tasks/*/info | head -n 1)
	f=${f%/info}
	printf '%s\n' "${f##*/}"
}
# shellcheck disable=SC2010 # ls is the readdir under test
listed() {	# POOL NAME: NAME is in queue/POOL/
	ls -- "$MNT/queue/$1" | grep -qxF -- "$2"
}
# never_ran ID WHAT DESC: no statement of the task was sent (no started_at)
# and its row WHAT is not in table side.
never_ran() {
	local id=$1 what=$2 desc=$3 why=''
	[ -z "$(info_of "$id" started_at)" ] || why+=" started_at=$(info_of "$id" started_at);"
	[ "$(app -c "SELECT count(*) FROM side WHERE what = '$what'")" = 0 ] ||
		why+=" its row is in the table;"
	if [ -z "$why" ]; then t_pass "$desc"; else t_fail "$desc:$why"; fi
}
# t_names DESC TEXT ID...: TEXT holds one of the IDs as a whole number.
t_names() {
	local desc=$1 text=$2 id
	shift 2
	for id in "$@"; do
		if printf '%s' "$text" | grep -Eq "(^|[^0-9])$id([^0-9]|\$)"; then
			t_pass "$desc"
			return 0
		fi
	done
	t_fail "$desc"
	t_diag "  got: '$text'"
	return 1
}

app -c 'CREATE TABLE chain (seq serial, k int)' \
	-c 'CREATE TABLE side (what text)' \
	-c 'CREATE TABLE go (x int)' || t_bail "cannot create the test tables"

# ------------------------------------------------------------ a chain of 25
# Task k sleeps (25-k) x 20 ms, then appends k: without after= the eight
# workers of pool fast would finish them roughly in reverse order.
N=25
mkdir -p "$W/chain"
ids=()
for ((k = 1; k <= N; k++)); do
	ids[k]=$(new_id)
	{
		[ "$k" -gt 1 ] && printf -- '-- pgqfs: after=%s\n' "${ids[k - 1]}"
		printf 'SELECT pg_sleep(%s);\n' "$(((N - k) * 20))e-3"
		printf 'INSERT INTO chain (k) VALUES (%d);\n' "$k"
	} >"$W/chain/${ids[k]}.sql"
done
for ((k = 1; k <= N; k++)); do
	submit fast "$W/chain/${ids[k]}.sql" || t_fail "submit chain task $k"
done
last=${ids[N]}
waits_for_prev() { grep -qx "waits_for=${ids[N - 1]}" "$MNT/tasks/$last/info"; }
if wait_until 5 waits_for_prev; then
	t_pass "the chain's last task: info says waits_for=${ids[N - 1]}"
else
	t_fail "the chain's last task: info says waits_for=${ids[N - 1]}"
	t_diag_file "$MNT/tasks/$last/info"
fi
t_is "$(cat "$MNT/tasks/$last/state")" queued "it is queued while it waits"
t_ok "it is listed in queue/fast/ under its name" listed fast "$last.sql"
t_is "$(task_wait "$last" 40)" done "the chain's last task is done"
t_is "$(app -c "SELECT string_agg(k::text, ',' ORDER BY seq) FROM chain")" \
	"$(seq -s, 1 "$N")" "the chain ran strictly in order 1..$N"
early=
for ((k = 2; k <= N; k++)); do
	s=$(ms "$(info_of "${ids[k]}" started_at)") || s=0
	f=$(ms "$(info_of "${ids[k - 1]}" finished_at)") || f=99999999999999
	[ "$s" -ge "$f" ] || early+=" $k"
done
t_is "$early" "" "each chain task started after the one before it finished"
t_info "${ids[2]}" "after=${ids[1]}" "info of chain task 2: after=${ids[1]}"
t_ok "a done task waits for nothing" bash -c "! grep -q '^waits_for=' '$MNT/tasks/$last/info'"

# ------------------------------------------------------------ waiting
# A gate task runs until a row is in `go`.  w1.sql waits for it and for a
# task already done; x.sql waits for it too, and is removed (cancelled).
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
submit default "$W/gate.sql" "$gate.sql"
t_ok "the gate task runs" wait_file_content "$MNT/tasks/$gate/state" running 20
printf -- "-- pgqfs: after=%s,%s\nINSERT INTO side VALUES ('w1');\n" "$gate" "${ids[1]}" >"$W/w1.sql"
printf -- "-- pgqfs: after=%s\nINSERT INTO side VALUES ('x');\n" "$gate" >"$W/x.sql"
submit default "$W/w1.sql"
submit default "$W/x.sql"
sleep 1
w1=$(id_of w1.sql)
x=$(id_of x.sql)
t_like "$w1" '^[0-9]+$' "w1.sql has an id ($w1)"
t_is "$(cat "$MNT/tasks/$w1/state")" queued "a task waiting for after= is queued"
t_ok "it is listed in queue/default/ as w1.sql" listed default w1.sql
t_info "$w1" "waits_for=$gate" "info: waits_for names only the task not yet done ($gate, not ${ids[1]})"
t_info "$w1" "after=$gate,${ids[1]}" "info: after=$gate,${ids[1]}"
task_wait "$w1" 30 >"$W/w1.wait" 2>&1 &
waiter=$!
t_ok "x.sql, waiting too, can be removed from the queue" rm "$MNT/queue/default/x.sql"
t_ok "removing it cancels it" wait_file_content "$MNT/tasks/$x/state" cancelled 5
sleep 0.5
t_ok "wait on w1 has not returned while its dependency runs" kill -0 "$waiter"
t_is "$(cat "$MNT/tasks/$gate/state")" running "the gate still runs"
app -c 'INSERT INTO go VALUES (1)'
wait "$waiter"
t_is "$(cat "$W/w1.wait")" done "wait on w1 returns done once the gate is done"
t_is "$(app -c "SELECT count(*) FROM side WHERE what = 'w1'")" 1 "and w1 had run when wait returned"
t_is "$(task_wait "$gate" 10)" done "the gate is done"
sleep 0.5
never_ran "$x" x "x.sql, cancelled while waiting, never ran"

# ------------------------------------------------------------ failed dependencies
# a fails after a second; b waits for a, c for b: both fail without
# running, two generations.  f names a after a has failed.
printf 'SELECT pg_sleep(1);\nSELECT 1 / 0;\n' >"$W/a.sql"
a=$(new_id)
submit default "$W/a.sql" "$a.sql"
b=$(new_id)
printf -- "-- pgqfs: after=%s\nINSERT INTO side VALUES ('b');\n" "$a" >"$W/b.sql"
submit default "$W/b.sql" "$b.sql"
c=$(new_id)
printf -- "-- pgqfs: after=%s\nINSERT INTO side VALUES ('c');\n" "$b" >"$W/c.sql"
submit default "$W/c.sql" "$c.sql"
t_is "$(task_wait "$a" 20)" failed "a fails"
t_is "$(task_wait "$b" 20)" failed "b (after a) fails"
t_is "$(task_wait "$c" 20)" failed "c (after b) fails"
never_ran "$b" b "b never ran"
never_ran "$c" c "c never ran"
t_names "b's error names a ($a)" "$(cat "$MNT/tasks/$b/error")" "$a"
t_names "c's error names b ($b) or a ($a)" "$(cat "$MNT/tasks/$c/error")" "$b" "$a"
f=$(new_id)
printf -- "-- pgqfs: after=%s\nINSERT INTO side VALUES ('f');\n" "$a" >"$W/f.sql"
submit default "$W/f.sql" "$f.sql"
t_is "$(task_wait "$f" 20)" failed "f, submitted after a already failed, fails"
never_ran "$f" f "f never ran"
t_names "f's error names a ($a)" "$(cat "$MNT/tasks/$f/error")" "$a"

# A cancelled dependency: d waits a minute (not_before), e waits for d;
# rm of d cancels it, and e fails naming it.
printf -- "-- pgqfs: not_before=+60s\nINSERT INTO side VALUES ('d');\n" >"$W/d.sql"
submit default "$W/d.sql"
sleep 0.3
d=$(id_of d.sql)
e=$(new_id)
printf -- "-- pgqfs: after=%s\nINSERT INTO side VALUES ('e');\n" "$d" >"$W/e.sql"
submit default "$W/e.sql" "$e.sql"
sleep 0.3
t_is "$(cat "$MNT/tasks/$d/state")" queued "d (not_before=+60s) is queued"
t_ok "rm of d.sql succeeds" rm "$MNT/queue/default/d.sql"
t_is "$(task_wait "$d" 10)" cancelled "d is cancelled"
t_is "$(task_wait "$e" 10)" failed "e, after the cancelled d, fails"
never_ran "$d" d "d never ran"
never_ran "$e" e "e never ran"
t_names "e's error names d ($d)" "$(cat "$MNT/tasks/$e/error")" "$d"

# An id no task has: the task fails at once.
u=$(new_id)
printf -- "-- pgqfs: after=987654321\nINSERT INTO side VALUES ('u');\n" >"$W/u.sql"
t0=$(now_ms)
submit default "$W/u.sql" "$u.sql"
t_is "$(task_wait "$u" 20)" failed "after= an unknown id: the task fails"
el=$(($(now_ms) - t0))
t_ok "at once (${el} ms)" test "$el" -lt 3000
never_ran "$u" u "it never ran"

# ------------------------------------------------------------ not_before
# +2s; an absolute time 3 s ahead (a whole second); one in the past.
ahead=$(date -u -d "@$(($(date +%s) + 3))" +%Y-%m-%dT%H:%M:%SZ)
printf -- "-- pgqfs: not_before=+2s\nINSERT INTO side VALUES ('n1');\n" >"$W/n1.sql"
printf -- "-- pgqfs: not_before=%s\nINSERT INTO side VALUES ('n2');\n" "$ahead" >"$W/n2.sql"
printf -- "-- pgqfs: not_before=2000-01-01T00:00:00Z\nINSERT INTO side VALUES ('n3');\n" >"$W/n3.sql"
n1=$(new_id)
n2=$(new_id)
n3=$(new_id)
submit default "$W/n1.sql" "$n1.sql"
submit default "$W/n2.sql" "$n2.sql"
submit default "$W/n3.sql" "$n3.sql"
sleep 0.5
t_is "$(cat "$MNT/tasks/$n1/state")" queued "not_before=+2s: queued meanwhile"
t_ok "and listed in queue/default/" listed default "$n1.sql"
t_info "$n1" 'not_before=\+(2s|2000ms)' "info: not_before=+2s"
wu=$(ms "$(info_of "$n1" waits_until)") || wu=0
sub=$(ms "$(info_of "$n1" submitted_at)") || sub=0
t_ok "info: waits_until is submitted_at + 2 s ($((wu - sub)) ms)" \
	test $((wu - sub)) -ge 1000 -a $((wu - sub)) -le 3000
t_is "$(cat "$MNT/tasks/$n2/state")" queued "not_before=$ahead: queued meanwhile"
t_is "$(task_wait "$n3" 20)" done "not_before in the past: done"
st=$(ms "$(info_of "$n3" started_at)") || st=0
sub=$(ms "$(info_of "$n3" submitted_at)") || sub=0
t_ok "not_before in the past: started at once ($((st - sub)) ms after submission)" \
	test $((st - sub)) -ge 0 -a $((st - sub)) -lt 1500
t_is "$(task_wait "$n1" 20)" done "not_before=+2s: done"
st=$(ms "$(info_of "$n1" started_at)") || st=0
sub=$(ms "$(info_of "$n1" submitted_at)") || sub=0
t_ok "not_before=+2s: started no earlier than submitted_at + 2 s ($((st - sub)) ms)" \
	test $((st - sub)) -ge 2000
t_ok "and not much later ($((st - sub)) ms)" test $((st - sub)) -le 5000
t_is "$(task_wait "$n2" 20)" done "not_before=$ahead: done"
st=$(ms "$(info_of "$n2" started_at)") || st=0
at=$(ms "$ahead")
t_ok "not_before=$ahead: started no earlier ($((st - at)) ms after)" test $((st - at)) -ge 0
t_ok "and not much later ($((st - at)) ms)" test $((st - at)) -le 3000
t_ok "not_before=$ahead: info shows it" grep -qx "not_before=$ahead" "$MNT/tasks/$n2/info"

t_done
