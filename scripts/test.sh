#!/usr/bin/env bash
# The project's test command: every test of the workspace on the real kernel.
#
# As root it runs `cargo test --workspace` directly. As a normal user it builds as that user
# and runs only the test binaries through sudo (cargo's target runner), so target/ never
# becomes root's. Without sudo, the tests run unprivileged: they run rootless inside user
# namespaces where the kernel allows it and print a "SKIPPED <test>: needs root: ..." line for the rest.
#
#   scripts/test.sh                 # all tests
#   scripts/test.sh -p nstests      # extra arguments go to cargo test
#   NSTEST_NO_SUDO=1 scripts/test.sh  # as a normal user, without sudo (rootless run)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    exec cargo test --workspace "$@"
fi

if [ -z "${NSTEST_NO_SUDO:-}" ] && command -v sudo >/dev/null 2>&1; then
    triple=$(rustc -vV | sed -n 's/^host: //p')
    var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUNNER"
    echo "scripts/test.sh: building as $(id -un), running the test binaries as root through sudo" >&2
    export "$var"="sudo -E"
    exec cargo test --workspace "$@"
fi

echo "scripts/test.sh: not root and no sudo: running unprivileged (rootless where possible; skips are printed)" >&2
exec cargo test --workspace "$@"
