#!/usr/bin/env bash
# `metrics` (DESIGN.md, Operations): Prometheus text format 0.0.4, parsed
# here by the reference parser (Debian's python3-prometheus-client): the
# families and their types, the label sets, every configured pool present
# (with zeros before anything ran), tasks by pool and state equal to the
# control database's, this daemon's counters equal to what ran (done,
# failed, cancelled, a retried task), histograms cumulative with +Inf equal
# to _count, parked readers, connections per target, control statement
# latency; a reload that adds a pool keeps the counts.
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$SRCDIR/e2e/lib.sh"

# Debian's package is for the system's python (not one of a pyenv).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	t_bail "python3-prometheus-client is not installed (contrib/deps.sh)"

EXTRA_POOL=0
pgqfs_config() {
	pgqfs_default_config "$@"
	[ "$EXTRA_POOL" = 1 ] && printf '\n[pool extra]\ntarget = main\nmax_workers = 1\n'
	return 0
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
app() { psql_ref -d app -qtA -v ON_ERROR_STOP=1 "$@"; }

# The checker: reads the metrics file with the reference parser and the
# expectations (key=value lines) and prints PASS/FAIL lines.
cat >"$W/check.py" <<'EOF'
import math, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
want = {}
for line in open(sys.argv[2]):
    k, _, v = line.rstrip('\n').partition('=')
    want[k] = v
pools = want['pools'].split(',')
targets = want['targets'].split(',')
res = []
def check(ok, desc, detail=''):
    res.append(('PASS ' if ok else 'FAIL ') + desc + ('' if ok else ': ' + detail))

try:
    fams = {f.name: f for f in text_string_to_metric_families(text)}
except Exception as e:
    print('FAIL the reference parser reads the file: %r' % e)
    sys.exit(0)
check(True, 'the reference parser reads the file')

types = {
    'pgqfs_tasks': 'gauge',
    'pgqfs_tasks_submitted': 'counter',
    'pgqfs_tasks_started': 'counter',
    'pgqfs_tasks_finished': 'counter',
    'pgqfs_tasks_retried': 'counter',
    'pgqfs_task_duration_seconds': 'histogram',
    'pgqfs_waiting_readers': 'gauge',
    'pgqfs_target_connections': 'gauge',
    'pgqfs_control_statement_seconds': 'histogram',
}
for name, typ in types.items():
    f = fams.get(name)
    check(f is not None and f.type == typ, 'family %s of type %s' % (name, typ),
          'got %s' % (f.type if f else 'none'))
    if f is not None:
        check(bool(f.documentation), 'family %s has a HELP text' % name, 'empty')
check(set(fams) == set(types), 'no other families', 'got %s' % sorted(fams))

def samples(fam, suffix=''):
    return [s for s in fams[fam].samples if s.name == fam + suffix] if fam in fams else []

def value(fam, suffix, **labels):
    for s in samples(fam, suffix):
        if s.labels == labels:
            return s.value
    return None

states = ['queued', 'running', 'done', 'failed', 'cancelled']
outcomes = ['done', 'failed', 'cancelled']
# label sets: exactly every pool (and state, outcome) once
def labelsets(fam, suffix, keys):
    return sorted(tuple(s.labels.get(k) for k in keys) for s in samples(fam, suffix)
                  if set(s.labels) == set(keys)), \
        all(set(s.labels) == set(keys) for s in samples(fam, suffix))

got, same = labelsets('pgqfs_tasks', '', ['pool', 'state'])
check(same and got == sorted((p, s) for p in pools for s in states),
      'pgqfs_tasks{pool,state}: every pool with every state, once', str(got))
for c in ['submitted', 'started', 'retried']:
    got, same = labelsets('pgqfs_tasks_' + c, '_total', ['pool'])
    check(same and got == sorted((p,) for p in pools),
          'pgqfs_tasks_%s_total{pool}: every pool once' % c, str(got))
got, same = labelsets('pgqfs_tasks_finished', '_total', ['pool', 'outcome'])
check(same and got == sorted((p, o) for p in pools for o in outcomes),
      'pgqfs_tasks_finished_total{pool,outcome}: every pool with done, failed, cancelled',
      str(got))
got, same = labelsets('pgqfs_target_connections', '', ['target', 'state'])
check(same and got == sorted((t, s) for t in targets for s in ['idle', 'busy', 'connecting']),
      'pgqfs_target_connections{target,state}: every target with idle, busy, connecting',
      str(got))
w = samples('pgqfs_waiting_readers')
check(len(w) == 1 and w[0].labels == {}, 'pgqfs_waiting_readers: one sample, no labels', str(w))

def histogram(fam, key, vals):
    ok = True
    for v in vals:
        b = sorted(((s.labels['le'], s.value) for s in samples(fam, '_bucket')
                    if s.labels.get(key) == v), key=lambda x: float(x[0]))
        les = [float(x[0]) for x in b]
        counts = [x[1] for x in b]
        cnt = value(fam, '_count', **{key: v})
        sm = value(fam, '_sum', **{key: v})
        if not b or les[-1] != math.inf or len(set(les)) != len(les):
            check(False, '%s{%s="%s"}: buckets up to +Inf' % (fam, key, v), str(les))
            ok = False
            continue
        if counts != sorted(counts):
            check(False, '%s{%s="%s"}: buckets cumulative' % (fam, key, v), str(counts))
            ok = False
        if cnt is None or counts[-1] != cnt or sm is None or sm < 0:
            check(False, '%s{%s="%s"}: +Inf bucket == _count, _sum >= 0' % (fam, key, v),
                  'inf %s count %s sum %s' % (counts[-1], cnt, sm))
            ok = False
    check(ok, '%s: per %s, buckets cumulative and monotonic up to +Inf == _count' % (fam, key))

histogram('pgqfs_task_duration_seconds', 'pool', pools)
histogram('pgqfs_control_statement_seconds', 'statement',
          ['claim', 'progress', 'recover', 'housekeeping'])

# what ran: key "NAME{k=v,k=v}" -> value; ">=" for lower bounds
for k, v in want.items():
    if k in ('pools', 'targets'):
        continue
    name, _, lab = k.partition('{')
    labels = dict(x.split(':', 1) for x in lab.rstrip('}').split(',') if x)
    fam, suffix = name, ''
    for suf in ['_total', '_bucket', '_count', '_sum']:
        if name.endswith(suf) and name[:-len(suf)] in fams:
            fam, suffix = name[:-len(suf)], suf
    if name in fams:
        fam, suffix = name, ''
    got = value(fam, suffix, **labels)
    if v.startswith('>='):
        check(got is not None and got >= float(v[2:]), '%s >= %s' % (k, v[2:]), str(got))
    elif v.startswith('<='):
        check(got is not None and got <= float(v[2:]), '%s <= %s' % (k, v[2:]), str(got))
    else:
        check(got is not None and got == float(v), '%s = %s' % (k, v), str(got))
print('\n'.join(res))
EOF

# check DESC-PREFIX KEY=VALUE...: reads metrics into a file, checks it.
check_metrics() {
	local prefix=$1 line
	shift
	cat "$MNT/metrics" >"$W/metrics.txt" || { t_fail "$prefix: cat metrics"; return; }
	printf '%s\n' "$@" >"$W/want.txt"
	while IFS= read -r line; do
		case $line in
		PASS\ *) t_pass "$prefix: ${line#PASS }" ;;
		FAIL\ *) t_fail "$prefix: ${line#FAIL }" ;;
		*) t_fail "$prefix: checker said: $line" ;;
		esac
	done < <("$PY" "$W/check.py" "$W/metrics.txt" "$W/want.txt" 2>&1)
	[ "$_T_FAILED" -eq 0 ] || t_diag_file "$W/metrics.txt" 400
}

# gauges ARGS: pgqfs_tasks{pool:P,state:S}=N for every pool and state, as
# the control database counts them (the reference).
gauges() {
	local p s
	for p in "$@"; do
		for s in queued running done failed cancelled; do
			echo "pgqfs_tasks{pool:$p,state:$s}=$(psql_ref -d pgqfs_ctl -tAc "
				SELECT count(*) FROM pgqfs.task WHERE pool = '$p' AND
				CASE state WHEN 'staged' THEN 'queued' ELSE state END = '$s'")"
		done
	done
}

# ------------------------------------------------ the file itself
t_like "$(ls -l "$MNT" | grep ' metrics$')" '^-r--r--r-- ' "metrics is listed at the root, mode 0444"
t_ok "metrics is read-only" bash -c "! echo x 2>/dev/null >'$MNT/metrics'"

# ------------------------------------------------ before anything ran
zeros=()
for p in default fast; do
	for c in submitted started retried; do zeros+=("pgqfs_tasks_${c}_total{pool:$p}=0"); done
	for o in done failed cancelled; do zeros+=("pgqfs_tasks_finished_total{pool:$p,outcome:$o}=0"); done
	zeros+=("pgqfs_task_duration_seconds_count{pool:$p}=0")
done
check_metrics "at start" pools=default,fast targets=main "${zeros[@]}" $(gauges default fast) \
	"pgqfs_waiting_readers=0"

# ------------------------------------------------ some tasks
app -c 'CREATE SEQUENCE s1' || t_bail "cannot create the sequence"
for i in 1 2; do
	echo "SELECT $i AS i;" >"$W/ok$i.sql"
	submit default "$W/ok$i.sql" || t_fail "submit ok$i"
done
echo "SELECT pg_sleep(0.3);" >"$W/slow.sql"
submit default "$W/slow.sql" || t_fail "submit slow"
# 40001 on the first run only: retried once, then done.
cat >"$W/retry.sql" <<'EOF'
-- pgqfs: retries=1 retry_delay=100ms
DO $$
BEGIN
	IF nextval('s1') = 1 THEN
		RAISE EXCEPTION 'transient failure' USING ERRCODE = '40001';
	END IF;
END
$$;
EOF
rid=$(new_id)
submit default "$W/retry.sql" "$rid.sql" || t_fail "submit retry"
echo "SELECT 1/0;" >"$W/bad.sql"
bid=$(new_id)
submit fast "$W/bad.sql" "$bid.sql" || t_fail "submit bad"
echo "SELECT pg_sleep(60);" >"$W/long.sql"
lid=$(new_id)
submit fast "$W/long.sql" "$lid.sql" || t_fail "submit long"
t_is "$(task_wait "$rid" 30)" done "the retried task ends done"
t_is "$(task_wait "$bid" 30)" failed "1/0 fails"
wait_file_content "$MNT/tasks/$lid/state" running 20 || t_fail "the long task runs"
# A parked reader of the long task's wait file.
timeout 60 cat "$MNT/tasks/$lid/wait" >"$W/waited" &
waiter=$!
wait_until 10 bash -c "grep -qx 'pgqfs_waiting_readers 1' '$MNT/metrics'" ||
	t_fail "the parked reader shows in pgqfs_waiting_readers"
check_metrics "while one runs" pools=default,fast targets=main \
	"pgqfs_waiting_readers=1" \
	"pgqfs_target_connections{target:main,state:busy}=>=1" \
	"pgqfs_tasks{pool:fast,state:running}=1" \
	"pgqfs_control_statement_seconds_count{statement:claim}=>=1" \
	"pgqfs_control_statement_seconds_count{statement:progress}=>=1" \
	"pgqfs_control_statement_seconds_count{statement:recover}=>=1"
echo 1 >"$MNT/tasks/$lid/cancel" || t_fail "cancel the long task"
wait "$waiter"
t_is "$(cat "$W/waited")" cancelled "the long task is cancelled"
for i in $(ls "$MNT/tasks"); do task_wait "$i" 30 >/dev/null; done

want_after=(
	"pgqfs_tasks_submitted_total{pool:default}=4"
	"pgqfs_tasks_submitted_total{pool:fast}=2"
	"pgqfs_tasks_started_total{pool:default}=5"
	"pgqfs_tasks_started_total{pool:fast}=2"
	"pgqfs_tasks_retried_total{pool:default}=1"
	"pgqfs_tasks_retried_total{pool:fast}=0"
	"pgqfs_tasks_finished_total{pool:default,outcome:done}=4"
	"pgqfs_tasks_finished_total{pool:default,outcome:failed}=0"
	"pgqfs_tasks_finished_total{pool:default,outcome:cancelled}=0"
	"pgqfs_tasks_finished_total{pool:fast,outcome:done}=0"
	"pgqfs_tasks_finished_total{pool:fast,outcome:failed}=1"
	"pgqfs_tasks_finished_total{pool:fast,outcome:cancelled}=1"
	"pgqfs_task_duration_seconds_count{pool:default}=4"
	"pgqfs_task_duration_seconds_count{pool:fast}=2"
	# pg_sleep(0.3) is above the 0.25 s bucket; its sum at least that
	"pgqfs_task_duration_seconds_bucket{pool:default,le:0.25}=<=3"
	"pgqfs_task_duration_seconds_sum{pool:default}=>=0.3"
	"pgqfs_waiting_readers=0"
)
check_metrics "after" pools=default,fast targets=main "${want_after[@]}" $(gauges default fast)

# ------------------------------------------------ a reload adds a pool
EXTRA_POOL=1
pgqfs_config main >"$E2E_TMP/main.conf"
before=$(grep -c 'SIGHUP' "${PGQFS_LOG[main]}")
kill -HUP "${PGQFS_PID[main]}"
wait_until 10 bash -c "[ \$(grep -c 'SIGHUP' '${PGQFS_LOG[main]}') -gt $before ]" ||
	t_fail "the daemon answers SIGHUP"
wait_until 10 bash -c "grep -q 'pool=\"extra\"' '$MNT/metrics'" ||
	t_fail "the added pool shows in metrics"
echo "SELECT 1;" >"$W/x.sql"
xid=$(new_id)
submit extra "$W/x.sql" "$xid.sql" || t_fail "submit to the added pool"
t_is "$(task_wait "$xid" 30)" done "a task of the added pool is done"
# A submission by rename counts too.
cp "$W/x.sql" "$MNT/queue/extra/.x.tmp" && mv "$MNT/queue/extra/.x.tmp" "$MNT/queue/extra/moved.sql" ||
	t_fail "submit by rename"
for i in $(ls "$MNT/tasks"); do task_wait "$i" 30 >/dev/null; done
check_metrics "after a reload" pools=default,extra,fast targets=main \
	"${want_after[@]}" $(gauges default extra fast) \
	"pgqfs_tasks_submitted_total{pool:extra}=2" \
	"pgqfs_tasks_started_total{pool:extra}=2" \
	"pgqfs_tasks_finished_total{pool:extra,outcome:done}=2" \
	"pgqfs_task_duration_seconds_count{pool:extra}=2"

t_done
