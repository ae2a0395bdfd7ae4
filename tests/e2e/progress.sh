#!/usr/bin/env bash
. "$SRCDIR/e2e/lib.sh"
t_skip progress "not yet"
t_done
