#!/usr/bin/env bash
# Bad configuration stops the daemon before it mounts: FILE:LINE: message on
# stderr, a non-zero exit, nothing mounted.
. "$SRCDIR/e2e/lib.sh"

W=$E2E_TMP/work
mkdir -p "$W/mnt"

good() {
	cat <<'EOF2'
[pgqfs]
control = host=/nonexistent dbname=pgqfs

[target main]
conninfo = dbname=app

[pool default]
target = main
EOF2
}

# refuse NAME WANT-ERE: runs the daemon on $W/NAME.conf and checks it fails
# at once with a message matching WANT-ERE and mounts nothing.
refuse() {
	local name=$1 want=$2 out st
	out=$(timeout 10 "$PGQFS" -f -c "$W/$name.conf" "$W/mnt" 2>&1 </dev/null)
	st=$?
	t_is "$st" 1 "$name: the daemon refuses to start, exit status 1"
	t_like "$out" "$want" "$name: says why"
	t_ok "$name: nothing is mounted" bash -c "! grep -qs ' $W/mnt ' /proc/self/mountinfo"
}

{ good; echo "max_worker = 3"; } >"$W/unknown-key.conf"
refuse unknown-key "unknown-key\.conf:9: unknown key 'max_worker' in \[pool default\]"

{ good; printf '\n[queue x]\nfoo = 1\n'; } >"$W/unknown-section.conf"
refuse unknown-section "unknown-section\.conf:10: unknown section \[queue x\]"

good | sed 's/^\[pgqfs\]$/[pgqfs]\nworkers = many/' >"$W/bad-value.conf"
refuse bad-value "bad-value\.conf:2: bad value for workers: 'many'"

good | sed 's/^max_task_bytes.*//; s/^\[pgqfs\]$/[pgqfs]\nmax_task_bytes = 16 parsecs/' >"$W/bad-size.conf"
refuse bad-size "bad-size\.conf:2: bad value for max_task_bytes"

good | sed 's/^\[pgqfs\]$/[pgqfs]\nretention = soon/' >"$W/bad-duration.conf"
refuse bad-duration "bad-duration\.conf:2: bad value for retention"

good | sed 's/^target = main$/target = nope/' >"$W/unknown-target.conf"
refuse unknown-target "unknown-target\.conf:8: pool 'default' names unknown target 'nope'"

good | sed '/^\[pool default\]$/,$d' >"$W/no-pool.conf"
refuse no-pool "no-pool\.conf: no \[pool\] section"

long="conninfo = host=db1.example.com,db2.example.com,db3.example.com port=5432,5433,5434 dbname=application_database user=application_user target_session_attrs=read-write connect_timeout=10 sslmode=prefer application_name=pgqfs"
good | sed "s|^conninfo = dbname=app$|$long|" >"$W/long-line.conf"
refuse long-line "long-line\.conf:5: line is longer than [0-9]+ bytes.*service"
t_ok "long-line: the conninfo is not echoed" bash -c \
	"! timeout 10 '$PGQFS' -f -c '$W/long-line.conf' '$W/mnt' 2>&1 | grep -q example.com"

refuse missing "missing\.conf: cannot open: No such file or directory"

# A daemon that cannot reach its control database does not mount either.
good >"$W/no-db.conf"
refuse no-db "cannot connect to the control database"

t_done
