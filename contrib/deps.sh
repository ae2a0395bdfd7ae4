#!/usr/bin/env bash
# Installs what pgqfs needs to build and test on Debian 12, when missing.
# Sourced by quickstart.sh and test.sh; needs root (or sudo) to install.
# Arguments name more packages to install the same way.
pgqfs_deps() {
	local pkgs=(build-essential pkg-config meson ninja-build libfuse3-dev fuse3
		libinih-dev libpq-dev postgresql postgresql-client valgrind perl
		groff-base dash python3-prometheus-client tzdata libfaketime "$@")
	local missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}" >&2
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null
}

# What the libFuzzer harnesses (tests/fuzz) need besides: clang, and its
# runtime libraries (libFuzzer and the sanitizers), which clang only
# recommends.
PGQFS_FUZZ_DEPS=(clang libclang-rt-14-dev)
