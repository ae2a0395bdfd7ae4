#!/usr/bin/env bash
# The man pages: pgqfs(8), pgqfs.conf(5) and pgq(1) render without a single
# groff warning; pgqfs.conf(5) documents exactly the keys of the key table in
# src/config_keys.c (each in its section); pgq(1) has every command pgq
# --help lists; and `meson install` puts pgq and the three pages in place.
# No PostgreSQL, no mount: TAP on stdout.
#   SRCDIR    <source>/tests
#   BUILDDIR  <build>/tests          (for the install check; optional)
#   MESON     the meson command      (for the install check; optional)
set -u -o pipefail
export LC_ALL=C
SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TOP=$SRCDIR/..
PAGES=(doc/pgqfs.8 doc/pgqfs.conf.5 doc/pgq.1)

n=0 failed=0
ok() { n=$((n + 1)); printf 'ok %d - %s\n' "$n" "$*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); printf 'not ok %d - %s\n' "$n" "$*"; }
skip() { n=$((n + 1)); printf 'ok %d - %s # SKIP %s\n' "$n" "$1" "$2"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf -- "$tmp"' EXIT

# ---- (a) every page renders without a warning, for print and for a terminal
if ! command -v groff >/dev/null; then
	echo "1..0 # SKIP groff is not installed (Debian: groff-base)"
	exit 0
fi
for page in "${PAGES[@]}"; do
	for dev in ps utf8; do
		out=$(groff -man -ww -z -T"$dev" "$TOP/$page" 2>&1)
		if [ -z "$out" ]; then
			ok "$page renders with groff -man -ww -T$dev, no warning"
		else
			not_ok "$page renders with groff -man -ww -T$dev, no warning"
			diag "$out"
		fi
	done
done

# ---- (b) pgqfs.conf(5) and the key table agree, section by section
# Table rows: { SECTION_POOL, "timeout", false, set_pool_timeout },
# (a row may go on on the next line: only its start is read).
grep -o '{ *SECTION_[A-Z]*, *"[a-z_]*"' "$TOP/src/config_keys.c" |
	sed 's/{ *SECTION_\([A-Z]*\), *"\([a-z_]*\)"/\1 \2/' | tr 'A-Z' 'a-z' |
	sort >"$tmp/table"
# The page: under ".SS [pgqfs]", ".SS [target NAME]", ".SS [pool NAME]",
# each key is a ".TP" whose tag line is ".B KEY" or ".BI KEY ...".
awk '
/^\.S[SH] / {
	sect = ""
	if ($0 ~ /^\.SS \[pgqfs\]/) sect = "pgqfs"
	else if ($0 ~ /^\.SS \[target /) sect = "target"
	else if ($0 ~ /^\.SS \[pool /) sect = "pool"
	tag = 0
	next
}
/^\.TP/ { tag = 1; next }
tag {
	tag = 0
	if (sect != "" && ($1 == ".BI" || $1 == ".B"))
		print sect, $2
}' "$TOP/doc/pgqfs.conf.5" | sort >"$tmp/page"
if [ "$(wc -l <"$tmp/table")" -ge 10 ]; then
	ok "the key table of src/config_keys.c read ($(wc -l <"$tmp/table") keys)"
else
	not_ok "the key table of src/config_keys.c read"
	diag "$(cat "$tmp/table")"
fi
missing=$(comm -23 "$tmp/table" "$tmp/page")
extra=$(comm -13 "$tmp/table" "$tmp/page")
if [ -z "$missing" ]; then
	ok "every key of the table is in pgqfs.conf(5), in its section"
else
	not_ok "every key of the table is in pgqfs.conf(5), in its section"
	diag "missing (section key):" "$missing"
fi
if [ -z "$extra" ]; then
	ok "every key pgqfs.conf(5) documents is in the table"
else
	not_ok "every key pgqfs.conf(5) documents is in the table"
	diag "not in src/config_keys.c (section key):" "$extra"
fi
dups=$(uniq -d "$tmp/page")
if [ -z "$dups" ]; then ok "no key documented twice"; else not_ok "no key documented twice"; diag "$dups"; fi

# ---- pgq(1) documents every command of pgq --help
cmds=$(sh "$TOP/contrib/pgq" --help | sed -n 's/^ *\(usage:\)\{0,1\} *pgq \[-m MOUNT\] \([a-z]*\).*/\2/p')
if [ -n "$cmds" ]; then
	ok "pgq --help lists commands ($(echo $cmds))"
else
	not_ok "pgq --help lists commands"
fi
for c in $cmds; do
	if grep -q "^\\\\fB$c\\\\fR" "$TOP/doc/pgq.1"; then
		ok "pgq(1) has a paragraph on '$c'"
	else
		not_ok "pgq(1) has a paragraph on '$c'"
	fi
done
for code in 0 1 2 3 4; do
	if awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH / { on = 0 } on' "$TOP/doc/pgq.1" |
		grep -qx "\\.B $code"; then
		ok "pgq(1) documents exit status $code"
	else
		not_ok "pgq(1) documents exit status $code"
	fi
done

# ---- (c) meson install puts pgq and the three pages in place
meson=${MESON:-$(command -v meson || true)}
build=${BUILDDIR:+$BUILDDIR/..}
if [ -z "$meson" ] || [ -z "$build" ] || [ ! -f "$build/meson-private/install.dat" ]; then
	skip "meson install --destdir" "no meson or no configured build dir (MESON, BUILDDIR)"
else
	# --no-rebuild: meson test has built everything, and a test must not
	# run ninja under a running ninja.
	if $meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/dest" >"$tmp/install.log" 2>&1; then
		ok "meson install --destdir into a scratch dir"
	else
		not_ok "meson install --destdir into a scratch dir"
		diag "$(tail -n 20 "$tmp/install.log")"
	fi
	for want in bin/pgq share/man/man1/pgq.1 share/man/man5/pgqfs.conf.5 share/man/man8/pgqfs.8; do
		got=$(find "$tmp/dest" -path "*/$want" | head -n 1)
		if [ -n "$got" ]; then
			ok "installed: ${got#"$tmp/dest"}"
		else
			not_ok "installed: $want"
			diag "$(cd "$tmp/dest" 2>/dev/null && find . -type f)"
		fi
	done
	pgq=$(find "$tmp/dest" -path '*/bin/pgq' | head -n 1)
	version=$(sed -n "s/^ *version : '\(.*\)',/\1/p" "$TOP/meson.build")
	if [ -n "$pgq" ] && [ -x "$pgq" ] && [ "$("$pgq" --version)" = "pgq $version" ]; then
		ok "the installed pgq is executable and says 'pgq $version'"
	else
		not_ok "the installed pgq is executable and says 'pgq $version'"
		diag "$(ls -l "$pgq" 2>&1)" "$("$pgq" --version 2>&1)"
	fi
	for page in "$tmp"/dest/*/share/man/man?/* "$tmp"/dest/*/*/share/man/man?/*; do
		[ -f "$page" ] || continue
		out=$(groff -man -ww -z "$page" 2>&1)
		if [ -z "$out" ]; then ok "installed ${page##*/} renders cleanly"; else not_ok "installed ${page##*/} renders cleanly"; diag "$out"; fi
	done
fi

printf '1..%d\n' "$n"
[ "$failed" -eq 0 ]
