#!/usr/bin/env bash
# Proof that the isolation suite fails when the kernel lies (issue 9; nswall/README.md,
# "Fault injection"): for every namespace kind, runs that kind's nstests binary without a
# fault and under `<kind>:lie`, `<kind>:EPERM` and `clone3:ENOSYS` (each run inside its own
# wall, which installs the seccomp filter), and checks that every test of the faked mode
# fails, that no run hangs, runs away or leaves a process behind, and that the host is
# unchanged. Prints one line per run; exits non-zero when any check failed.
#
#   scripts/faults.sh                        # as root, as CI runs it (about a minute)
#   scripts/faults.sh --kinds pid,net        # some kinds only
#   scripts/faults.sh --errno ENOSPC --timeout 60 --max-tasks 300 --fail-slow
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/faults.sh: run it as root (as CI does): the walls need their cgroup bound" >&2
    exit 2
fi
exec cargo run -q -p nswall --bin nswall-faults -- "$@"
