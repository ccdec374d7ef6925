#!/usr/bin/env bash
# Mutation testing of nscore with the whole workspace's tests (cargo-mutants, configured in
# .cargo/mutants.toml), as root, inside throwaway mount, IPC, UTS and PID namespaces (belt
# and braces on top of the wall every test binary builds: nswall), then a check that the
# host is as it was. How to read the results: nscore/README.md.
#
#   scripts/mutants.sh OUT --shard 0/12        # one twelfth of the 700 mutants
#   scripts/mutants.sh OUT --re 'setns_all'    # mutants whose name matches
#   scripts/mutants.sh OUT -f create.rs        # extra arguments go to cargo mutants
#
# OUT gets cargo-mutants' mutants.out/ and host-before.txt, host-after.txt.
#
# The copies cargo-mutants builds go to $NSCORE_MUTANTS_TMP (default /var/tmp/nscore-mutants),
# not /tmp: the wall mounts a fresh /tmp, which would hide a test binary built there from the
# tests that re-execute it (the wall now binds such a directory back in, but the copies
# stay out of the way there).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,16p' "$0"; exit 2; }
out=$1
shift
scratch=${NSCORE_MUTANTS_TMP:-/var/tmp/nscore-mutants}
mkdir -p "$scratch" "$out"
chmod 1777 "$scratch" # the tests' TMPDIR too: as /tmp, uid 65534 may create files there


snapshot() {
    echo "mounts: $(wc -l </proc/self/mountinfo) lines, $(awk '$5 ~ "^/tmp"' /proc/self/mountinfo | wc -l) under /tmp"
    echo "links: $(ls /sys/class/net | tr '\n' ' ')"
    echo "hostname: $(hostname) domain: $(cat /proc/sys/kernel/domainname)"
    echo "ipc: $(ipcs -m | grep -c '^0x') shm, $(ipcs -s | grep -c '^0x') sem, $(ipcs -q | grep -c '^0x') msg"
    echo "limits: $(cat /proc/sys/user/max_*_namespaces | tr '\n' ' ')"
    echo "processes left from the run: $(ps -eo args | grep -E "$scratch|cargo-mutants" | grep -cvE 'grep|mutants.sh')"
}

snapshot >"$out/host-before.txt"
TMPDIR=$scratch unshare -miu -fp --mount-proc --propagation private --kill-child \
    cargo mutants -p nscore --test-workspace=true -j 1 --copy-target=true --minimum-test-timeout 60 -o "$out" "$@"
status=$?
snapshot >"$out/host-after.txt"
if diff "$out/host-before.txt" "$out/host-after.txt"; then
    echo "scripts/mutants.sh: host unchanged: $(tr '\n' ';' <"$out/host-after.txt")"
else
    echo "scripts/mutants.sh: THE HOST CHANGED during the run (diff above)" >&2
    status=99
fi
exit $status
