#!/usr/bin/env bash
# pgq, the shell helper (contrib/pgq, built with its version as $PGQ), run
# under dash so that a bashism fails here: submit prints the ids and nothing
# else on stdout, -w and wait exit 0/1 with psql's error on stderr, status
# (plain and --json: parsed by python and checked against the info files),
# result (byte-equal to psql --csv), cancel and retry, and the exit codes
# 2 (usage), 3 (missing) and 4 (I/O error from the mount, an empty file, a
# dead mount, a mount that stops during a wait); status as another user on
# an allow_other mount; the JSON of a group and its members.
. "$SRCDIR/e2e/lib.sh"

PGQ=${PGQ:-${BUILDDIR:+$BUILDDIR/../pgq}}
[ -n "$PGQ" ] && [ -f "$PGQ" ] || t_bail "no built pgq (set PGQ or BUILDDIR)"
command -v dash >/dev/null || t_bail "dash is not installed"

# A small max_task_bytes gives a write the mount refuses (EFBIG).
pgqfs_config() {
	pgqfs_default_config "$@" | sed 's/^max_task_bytes = .*/max_task_bytes = 4KiB/'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
cd "$W" || t_bail "no work dir"

pgq() { PGQ_MOUNT=$MNT dash "$PGQ" "$@"; }
# run NAME ARGS...: pgq ARGS with stdout in NAME.out, stderr in NAME.err,
# and its exit status in $rc.
run() {
	local name=$1
	shift
	pgq "$@" >"$W/$name.out" 2>"$W/$name.err"
	rc=$?
}
out() { cat -- "$W/$1.out"; }
err() { cat -- "$W/$1.err"; }

if command -v shellcheck >/dev/null; then
	t_ok "shellcheck -s sh finds nothing in pgq" shellcheck -s sh "$PGQ"
else
	t_skip "shellcheck -s sh" "shellcheck is not installed"
fi

# ---- version and help
run v --version
t_is "$rc:$(out v)" "0:pgq $(sed -n "s/^ *version : '\(.*\)',/\1/p" "$SRCDIR/../meson.build")" \
	"--version prints the project's version"
# The script itself, unbuilt: meson did not fill in its version.
t_is "$(dash "$SRCDIR/../contrib/pgq" --version 2>&1; echo "rc=$?")" \
	"pgq (not installed: version unknown)"$'\n'"rc=0" \
	"contrib/pgq --version in the source tree says the version is unknown, exit 0"
run h --help
t_like "$rc:$(out h)" '^0:usage: pgq' "--help prints the usage on stdout, exit 0"

# ---- submit
printf 'SELECT 1 AS one;\n' >one.sql
printf 'SELECT 2 AS two;\n' >two.sql
run s1 submit one.sql two.sql
t_is "$rc" 0 "submit of two files exits 0"
t_like "$(out s1)" $'^[0-9]+\n[0-9]+$' "it prints two ids, one per line, and nothing else on stdout"
t_is "$(err s1)" "" "and nothing on stderr"
mapfile -t ids <"$W/s1.out"
id1=${ids[0]} id2=${ids[1]:-}
t_ok "the ids are in order" test "$id1" -lt "$id2"
t_cmp one.sql "$MNT/tasks/$id1/query.sql" "task $id1 holds the first file"
t_cmp two.sql "$MNT/tasks/$id2/query.sql" "task $id2 holds the second"
t_is "$(info_of "$id1" name):$(info_of "$id1" pool)" "$id1.sql:default" "named by its id, in pool default"

run s2 submit -p fast one.sql
t_is "$rc:$(info_of "$(out s2)" pool)" "0:fast" "submit -p fast submits to pool fast"
printf 'SELECT 3 AS three;\n' | pgq submit - >"$W/s3.out" 2>"$W/s3.err"
t_is "$?:$(err s3)" "0:" "submit - reads standard input"
t_cmp <(printf 'SELECT 3 AS three;\n') "$MNT/tasks/$(out s3)/query.sql" "and submits what it read"

# Standard input's first byte is read before anything is submitted, and
# sent as it was, a newline too.
printf '\nSELECT 4 AS four;\n' | pgq submit - >"$W/s4.out" 2>"$W/s4.err"
t_is "$?:$(err s4)" "0:" "submit - of a text starting with a newline"
t_cmp <(printf '\nSELECT 4 AS four;\n') "$MNT/tasks/$(out s4)/query.sql" "it is submitted whole"
t_is "$(task_wait "$(out s4)" 20)" "done" "and runs"

# An empty file: the mount queues nothing for it (DESIGN.md), so pgq refuses
# it rather than print an id that names no task.
: >empty.sql
n_before=$(ls "$MNT/tasks" | wc -l)
run em1 submit empty.sql
t_is "$rc:$(out em1)" "4:" "submit of an empty file exits 4 and prints no id"
t_is "$(err em1)" "pgq: empty.sql: empty file: nothing to submit" "saying so, as pgq"
run em2 submit -w one.sql empty.sql
t_is "$rc:$(out em2)" "4:" "submit -w of a file and an empty one exits 4 and prints no id"
pgq submit - </dev/null >"$W/em3.out" 2>"$W/em3.err"
t_is "$?:$(out em3)" "4:" "submit - of an empty standard input exits 4 and prints no id"
t_is "$(err em3)" "pgq: standard input is empty: nothing to submit" "saying so"
pgq submit -w one.sql - </dev/null >"$W/em4.out" 2>"$W/em4.err"
t_is "$?:$(out em4)" "4:" "submit -w of a file and an empty standard input exits 4 before submitting"
# A pipe cannot be checked before: pgq sees afterwards that no task has the id.
pgq submit <(:) >"$W/em5.out" 2>"$W/em5.err"
t_is "$?:$(out em5)" "4:" "submit of an empty pipe exits 4 and prints no id"
t_like "$(err em5)" '^pgq: /dev/fd/[0-9]+: empty: nothing was submitted \(id [0-9]+ names no task\)$' \
	"saying so"
t_is "$(ls "$MNT/tasks" | wc -l)" "$n_before" "none of these submitted anything"
pgq submit <(printf 'SELECT 5 AS five;\n') >"$W/p1.out" 2>"$W/p1.err"
t_like "$?:$(out p1):$(err p1)" '^0:[0-9]+:$' "submit of a pipe with SQL in it prints its id"
t_is "$(task_wait "$(out p1)" 20)" "done" "and the task runs"

run wa wait "$id1" "$id2" "$(out s2)" "$(out s3)"
t_is "$rc:$(out wa)" "0:$id1 done"$'\n'"$id2 done"$'\n'"$(out s2) done"$'\n'"$(out s3) done" \
	"wait of four done tasks: exit 0, 'ID done' for each, in order"

# ---- submit -w
printf 'SELECT 1 AS a, %s AS b;\n' "'x'" >good.sql
printf 'SELECT 1;\nSELECT * FROM no_such_table;\n' >bad.sql
# psql names the file it runs in its messages; pgqfs's error says query.sql.
mkdir -p ref && cp bad.sql ref/query.sql
(cd ref && psql_ref -d app -q --csv -v ON_ERROR_STOP=1 -f query.sql >/dev/null 2>"$W/bad.psql")
t_like "$(cat "$W/bad.psql")" '^psql:query.sql:2: ERROR:  relation "no_such_table" does not exist' \
	"psql's error (the reference)"

run w1 submit -w good.sql
t_like "$rc:$(out w1)" '^0:[0-9]+$' "submit -w of a good file: exit 0, only its id on stdout"
t_is "$(cat "$MNT/tasks/$(out w1)/state")" "done" "the task is done when submit -w returns"
t_is "$(err w1)" "" "nothing on stderr"

run w2 submit -w good.sql bad.sql
t_is "$rc" 1 "submit -w of a good and a failing file exits 1"
t_like "$(out w2)" $'^[0-9]+\n[0-9]+$' "stdout holds the two ids only"
mapfile -t wids <"$W/w2.out"
good=${wids[0]} bad=${wids[1]:-}
t_is "$(cat "$MNT/tasks/$good/state"):$(cat "$MNT/tasks/$bad/state")" done:failed "the states"
t_cmp <(sed "s/^/$bad: /" "$W/bad.psql"; echo "$bad: SQLSTATE: 42P01") "$W/w2.err" \
	"stderr holds psql's error and the SQLSTATE, each line prefixed by the failed task's id"
t_cmp <(sed "s/^/$bad: /" "$MNT/tasks/$bad/error") "$W/w2.err" \
	"stderr is exactly the task's error file, each line prefixed by its id"

# ---- wait
run wt1 wait "$good"
t_is "$rc:$(out wt1)" "0:$good done" "wait of a done task: exit 0, 'ID done'"
run wt2 wait "$good" "$bad"
t_is "$rc:$(out wt2)" "1:$good done"$'\n'"$bad failed" "wait of a done and a failed task: exit 1, a line each"
t_cmp "$W/w2.err" "$W/wt2.err" "and the failed task's error on stderr, as submit -w printed it"

# ---- status
run st1 status "$good" "$bad"
t_is "$rc:$(out st1)" "0:$good done default $good.sql"$'\n'"$bad failed default $bad.sql" \
	"status: 'ID STATE POOL NAME' lines"

# A name with quotes, a backslash, blanks and UTF-8: status must escape it.
odd=$'q"uo\\te \'x\' \xc3\xa9.sql'
t_ok "submit a task with an odd name" cp one.sql "$MNT/queue/default/$odd"
odd_id=
find_odd() {
	local d
	for d in "$MNT"/tasks/*; do
		[ "$(info_of "${d##*/}" name)" == "$odd" ] && { odd_id=${d##*/}; return 0; }
	done
	return 1
}
t_ok "its task is listed" wait_until 10 find_odd
task_wait "$odd_id" >/dev/null

# check_json FILE IDS...: FILE is one JSON array holding an object per id,
# in order, whose keys and values are those of the id's info file: numbers
# for the numeric keys, null for empty values, strings otherwise.
check_json() {
	python3 - "$MNT" "$@" <<'EOF'
import json, sys
mnt, path, ids = sys.argv[1], sys.argv[2], sys.argv[3:]
doc = json.loads(open(path, 'rb').read().decode('utf-8'))
assert isinstance(doc, list), 'not an array'
got = [str(o.get('id')) for o in doc]
assert got == ids, f'ids {got} != {ids}'
numeric = {'id', 'submitted_uid', 'duration_ms', 'rows', 'attempt',
           'backend_pid', 'group', 'members', 'priority', 'retries'}
for o in doc:
    info = open(f"{mnt}/tasks/{o['id']}/info", 'rb').read().decode('utf-8')
    want = {}
    for line in info.splitlines():
        k, v = line.split('=', 1)
        if k in want:
            continue    # a key given twice: its first value
        want[k] = (None if v == '' else
                   int(v) if k in numeric and v.lstrip('-').isdigit() else v)
    # Times and a running task's figures may move between two reads:
    # compare what is final for a finished task.
    assert list(o) == list(want), f'keys {list(o)} != {list(want)}'
    for k in want:
        assert o[k] == want[k], f'task {o["id"]}: {k}: {o[k]!r} != {want[k]!r}'
        if isinstance(want[k], int):
            assert type(o[k]) is int, f'{k} is not a number'
print('ok')
EOF
}
run j1 status --json "$good" "$bad" "$odd_id"
t_is "$rc" 0 "status --json of three tasks exits 0"
t_ok "it is one JSON array whose objects equal the info files (numbers, nulls, the odd name)" \
	check_json "$W/j1.out" "$good" "$bad" "$odd_id"
t_is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[2]["name"] == sys.argv[2])' "$W/j1.out" "$odd")" \
	True "the odd name survives the round trip"

# No id: every retained task, oldest first.  Nothing runs now, so the
# listing is stable.
mapfile -t all < <(ls "$MNT/tasks" | sort -n)
run j2 status --json
t_is "$rc" 0 "status --json with no id exits 0"
t_ok "it holds every task of tasks/ (${#all[@]}), each equal to its info" check_json "$W/j2.out" "${all[@]}"
run st2 status
t_is "$(cut -d' ' -f1 "$W/st2.out" | tr '\n' ' ')" "${all[*]} " "plain status with no id: a line per task"
t_is "$(grep "^$odd_id " "$W/st2.out")" "$odd_id done default $odd" "the odd name printed as is in plain status"

# A group and its members (DESIGN.md, Groups): a member's group is the
# group's id, a group's members their count, both JSON numbers, and no key
# twice (a member's info used to repeat the header's group=statements).
printf -- '-- pgqfs: group=statements\nSELECT 1 AS a;\nSELECT 2 AS b;\n' >grp.sql
gid=$(pgq submit -w grp.sql)
t_is "$?" 0 "a group of two statements ran"
mapfile -t mids < <(tail -n +2 "$MNT/tasks/$gid/result" | cut -d, -f1)
t_is "${#mids[@]}" 2 "it has two members"
run g1 status --json "$gid" "${mids[@]}"
t_is "$rc" 0 "status --json of the group and its members exits 0"
t_is "$(python3 - "$W/g1.out" "$gid" <<'EOF'
import json, sys
def once(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f'a key twice: {keys}'
    return dict(pairs)
doc = json.load(open(sys.argv[1]), object_pairs_hook=once)
gid = int(sys.argv[2])
g, members = doc[0], doc[1:]
assert g['id'] == gid and type(g['members']) is int and g['members'] == 2, g
for m in members:
    assert type(m['group']) is int and m['group'] == gid, m
print('ok')
EOF
)" ok "the group's members and each member's group are numbers, no key twice"
t_ok "and the objects equal the info files" check_json "$W/g1.out" "$gid" "${mids[@]}"

# ---- status as another user on an allow_other mount: the tasks it may
# not read are left out silently when listing, refused when named.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	pgqfs_start b -o allow_other || t_bail "daemon b did not start"
	B=$(mnt b)
	chmod 755 "$W"
	chmod 644 one.sql
	as_nobody() { runuser -u nobody -- env PGQ_MOUNT="$B" dash "$PGQ" "$@"; }
	nid=$(as_nobody submit -w "$W/one.sql")
	t_like "$?:$nid" '^0:[0-9]+$' "nobody submits a task through an allow_other mount"
	nuid=$(id -u nobody)
	mine=()
	for t in $(ls "$MNT/tasks" | sort -n); do
		[ "$(info_of "$t" submitted_uid)" = "$nuid" ] && mine+=("$t")
	done
	as_nobody status "$good" >"$W/n0.out" 2>"$W/n0.err"
	t_is "$?:$(out n0)" "4:" "nobody's status of root's task $good exits 4"
	t_like "$(err n0)" 'Permission denied' "with EACCES's text"
	as_nobody status >"$W/n1.out" 2>"$W/n1.err"
	t_is "$?:$(err n1)" "0:" "nobody's status with no id exits 0, nothing on stderr"
	t_is "$(cut -d' ' -f1 "$W/n1.out" | tr '\n' ' ')" "${mine[*]} " \
		"it lists nobody's own tasks only (${mine[*]})"
	as_nobody status --json >"$W/n2.out" 2>"$W/n2.err"
	t_is "$?:$(err n2)" "0:" "nobody's status --json with no id exits 0, nothing on stderr"
	t_ok "it holds nobody's tasks only, each equal to its info" check_json "$W/n2.out" "${mine[@]}"
	pgqfs_stop b
else
	t_skip "status as another user" "needs root and a user nobody"
fi

# ---- result
printf '%s\n' "SELECT 1 AS n, 'a,b' AS s, NULL AS z, E'two\\nlines \"q\"' AS t;" \
	"SELECT g FROM generate_series(1, 3) g;" "CREATE TEMP TABLE t (x int);" >rows.sql
psql_ref -d app -q --csv -v ON_ERROR_STOP=1 -f rows.sql >"$W/rows.want" 2>&1
rid=$(pgq submit -w rows.sql)
t_is "$?" 0 "a task with rows ran"
pgq result "$rid" >"$W/rows.got"
t_is "$?" 0 "result exits 0"
t_cmp "$W/rows.want" "$W/rows.got" "result is byte-equal to psql --csv"
pgq result "$bad" >"$W/bad.got" 2>&1
t_is "$?" 0 "result of a failed task exits 0 (the rows before the error)"
t_cmp "$MNT/tasks/$bad/result" "$W/bad.got" "and prints its result file"

# ---- usage errors: exit 2, nothing on stdout
for args in "" "frobnicate" "submit" "submit -x one.sql" "wait" "wait abc" "status 12x" \
	"status --frob" "result" "result 1 2" "cancel" "retry ../1" "-z status" "-m"; do
	# shellcheck disable=SC2086 # split on purpose
	run u $args
	t_is "$rc:$(out u)" "2:" "'pgq $args' is a usage error (exit 2, nothing on stdout)"
done
t_like "$(err u)" '^pgq: ' "with a message on stderr"

# ---- missing things: exit 3
missing=999999
run m1 wait "$missing"
t_is "$rc:$(out m1)" "3:" "wait of a missing id exits 3"
t_like "$(err m1)" "no task $missing" "saying so"
run m2 status "$missing"
t_is "$rc" 3 "status of a missing id exits 3"
run m3 status --json "$good" "$missing"
t_is "$rc" 3 "status --json of a present and a missing id exits 3"
t_ok "and still prints the present one" check_json "$W/m3.out" "$good"
run m4 result "$missing"
t_is "$rc:$(out m4)" "3:" "result of a missing id exits 3"
run m5 cancel "$missing"
t_is "$rc" 3 "cancel of a missing id exits 3"
n_before=$(ls "$MNT/tasks" | wc -l)
run m6 submit one.sql no-such-file.sql
t_is "$rc:$(out m6)" "3:" "submit of a missing file exits 3 and prints no id"
t_is "$(ls "$MNT/tasks" | wc -l)" "$n_before" "and submits none of the files"
run m7 submit -p nopool one.sql
t_is "$rc:$(out m7)" "3:" "submit to a missing pool exits 3"
PGQ_MOUNT=$E2E_TMP/nowhere dash "$PGQ" status >/dev/null 2>&1
t_is "$?" 3 "a missing mount exits 3"
run m8 -m "$E2E_TMP" status
t_is "$rc" 3 "-m naming a directory that is not a mount exits 3"

# ---- an I/O error: exit 4 with the errno text
head -c 5000 /dev/zero | tr '\0' ' ' >big.sql
echo 'SELECT 1;' >>big.sql
run e1 submit big.sql
t_is "$rc" 4 "submit of a file over max_task_bytes exits 4"
t_like "$(err e1)" 'File too large' "with the errno text on stderr"
t_is "$(out e1)" "" "and prints no id"

# ---- cancel and retry (tasks/ID/cancel and retry: the fs side of "Cancel
# and retry by id"; these fail until it has landed)
# A queued task: held back an hour by its header.
printf -- '-- pgqfs: not_before=+1h\nSELECT 1;\n' >later.sql
qid=$(pgq submit later.sql)
t_is "$(cat "$MNT/tasks/$qid/state")" queued "a task held back by not_before is queued"
run c1 cancel "$qid"
t_is "$rc:$(out c1)$(err c1)" "0:" "cancel of a queued task exits 0 and prints nothing"
PGQ_MOUNT=$MNT timeout 20 dash "$PGQ" wait "$qid" >"$W/c2.out" 2>"$W/c2.err"
t_is "$?:$(out c2)" "1:$qid cancelled" "it ends cancelled: wait exits 1"
run c3 cancel "$good"
t_is "$rc" 4 "cancel of a done task exits 4"
t_like "$(err c3)" 'Invalid argument' "with EINVAL's text"
attempt=$(info_of "$qid" attempt)
run r1 retry "$qid"
t_is "$rc:$(out r1)$(err r1)" "0:" "retry of the cancelled task exits 0 and prints nothing"
t_is "$(cat "$MNT/tasks/$qid/state")" queued "it is queued again"
t_is "$(info_of "$qid" attempt)" $((attempt + 1)) "its attempt is one more (DESIGN.md: attempt + 1)"
run r2 retry "$good"
t_is "$rc" 4 "retry of a done task exits 4"
t_like "$(err r2)" 'Invalid argument' "with EINVAL's text"
pgq cancel "$qid" >/dev/null 2>&1

# A running task.  timeout: a wait that never ends must not eat the whole
# test's time.
printf 'SELECT pg_sleep(20);\n' >slow.sql
sid=$(pgq submit slow.sql)
t_ok "a slow task is running" wait_file_content "$MNT/tasks/$sid/state" running 10
start=$(date +%s)
run c4 cancel "$sid"
t_is "$rc:$(out c4)$(err c4)" "0:" "cancel of a running task exits 0 and prints nothing"
PGQ_MOUNT=$MNT timeout 15 dash "$PGQ" wait "$sid" >"$W/c5.out" 2>"$W/c5.err"
t_is "$?:$(out c5)" "1:$sid cancelled" "it ends cancelled: wait exits 1"
t_ok "within 5 s of the cancel" test $(($(date +%s) - start)) -le 5
t_like "$(err c5)" "^$sid: " "its error on stderr, prefixed by its id"

# ---- the mount stops during a wait: exit 4 (the mount), not 3 (no task).
# waiting: the readers parked on the mount's wait files (its stats).
parked() { grep -qx "waiting $1" "$MNT/stats"; }
# A queued task: SIGTERM answers its parked reader with EINTR, then the
# mount goes away.
hid=$(pgq submit later.sql)
(
	PGQ_MOUNT=$MNT timeout 30 dash "$PGQ" wait "$hid" >"$W/d1.out" 2>"$W/d1.err"
	echo "$?" >"$W/d1.rc"
) &
dp=$!
t_ok "pgq wait $hid is parked" wait_until 10 parked 1
pgqfs_stop main
wait "$dp"
t_is "$(cat "$W/d1.rc"):$(out d1)" "4:" "the daemon stops during pgq wait: exit 4, nothing on stdout"
t_is "$(grep -c 'no task' "$W/d1.err")" 0 "and no 'no task' message"

pgqfs_start main || t_bail "daemon did not start again"
# A daemon killed during submit -w: its mount is dead (ENOTCONN).
(
	PGQ_MOUNT=$MNT timeout 30 dash "$PGQ" submit -w slow.sql >"$W/d2.out" 2>"$W/d2.err"
	echo "$?" >"$W/d2.rc"
) &
dp=$!
t_ok "pgq submit -w is parked" wait_until 10 parked 1
kill -KILL "${PGQFS_PID[main]}"
wait "${PGQFS_PID[main]}" 2>/dev/null
wait "$dp"
t_like "$(cat "$W/d2.rc"):$(out d2)" '^4:[0-9]+$' "the daemon is killed during submit -w: exit 4, the id on stdout"
t_like "$(err d2)" "^pgq: $MNT: the mount is not connected \(is the daemon running\?\)$" \
	"pgq says the mount is not connected"
t_is "$(grep -c 'no task' "$W/d2.err")" 0 "not that there is no task"

# ---- a dead mount (still mounted, its daemon gone): pgq's own message.
for args in "status" "status --json" "wait 1" "result 1" "cancel 1" "submit one.sql"; do
	# shellcheck disable=SC2086 # split on purpose
	run dead $args
	t_is "$rc:$(out dead):$(err dead)" "4::pgq: $MNT: the mount is not connected (is the daemon running?)" \
		"on a dead mount 'pgq $args' exits 4 with pgq's own message only"
done
pgqfs_kill9 main

t_done
