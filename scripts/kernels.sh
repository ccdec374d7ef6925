#!/usr/bin/env bash
# The kernel matrix: the test suite (and the quick benchmark) under several kernels, side by side.
#
#   scripts/kernels.sh [--tests] [--bench] [options] KERNEL...
#
#   scripts/kernels.sh host 6.1 7.2                  # the tests on the host and two Debian kernels
#   scripts/kernels.sh --tests host 6.1 6.12 7.2 7.3-rc
#   scripts/kernels.sh --bench 6.1 7.2               # the quick bench only (then nsbench-report compare)
#   scripts/kernels.sh ~/linux/arch/x86/boot/bzImage # a kernel just built (modules built in)
#   scripts/kernels.sh /boot/vmlinuz-X:/lib/modules/X  # an image and its modules directory
#
# KERNEL is `host` (the running kernel, no VM), a Debian alias (6.1: bookworm, 6.12: trixie,
# 7.2: sid, 7.3-rc: experimental; `scripts/kernels/fetch.sh --list` shows what each suite
# carries today) or a path to a vmlinuz/bzImage, optionally `:MODULES_DIR`.
#
# Options:
#   --tests          run every test binary of the workspace (the default without --bench)
#   --only REGEX     only the test binaries whose label (`nstests.active`, `nscore.kernel`, ...)
#                    matches REGEX (grep -E), to iterate on one kernel's failures
#   --bench          run the quick benchmark (criterion --quick) and keep its results.json
#   --timeout S      bound on each test binary and on the bench (default 300)
#   --vm-timeout S   bound on a whole guest run, boot to power-off (default 1200)
#   --out DIR        results (default target/kernels/results)
#
# Each VM kernel boots in QEMU with an initramfs made here (busybox, the test binaries built
# once on the host and their libraries, the modules the tests need). KVM is tried first; when
# it fails (nested KVM often does) the run falls back to TCG, a full emulation: every figure is
# then marked `tcg` and is comparable only with other tcg figures. KERNELS_ENGINE=kvm|tcg skips
# the probe. Needs root (the tests do) and installs qemu-system-x86 and busybox-static with
# apt-get when missing.
#
# Results per kernel in OUT/<kernel>/: results.ktap, junit.xml, the raw output of each binary
# (tests/), the probe's features (probe.out), results.json with --bench, console.log of the
# guest; the matrix in OUT/matrix.md and OUT/matrix.svg, printed at the end.
# Exit code: 0 when every kernel ran and no test failed; 1 otherwise; 2 on bad usage.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
root=$PWD
# A path the caller gave, made absolute against the caller's directory (we run from the root).
from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }
started=$(date +%s)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
die() { echo "kernels: error: $*" >&2; exit 2; }
elapsed() { echo "$(($(date +%s) - started))s"; }
say() { printf '\033[1m%8s\033[0m %s  [%s]\n' "$1" "$2" "$(elapsed)"; }

tests=0 bench=0 timeout=300 vm_timeout=1200 out=$root/target/kernels/results only=
kernels=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tests) tests=1 ;;
        --only) only=${2:?}; shift ;;
        --bench) bench=1 ;;
        --timeout) timeout=${2:?}; shift ;;
        --vm-timeout) vm_timeout=${2:?}; shift ;;
        --out) out=$(from_caller "${2:?}"); shift ;;
        -h | --help) usage ;;
        -*) echo "kernels: unknown option $1" >&2; usage ;;
        host | 6.1 | 6.12 | 7.2 | 7.3-rc) kernels+=("$1") ;;
        */* | *.*)
            # an image path (IMAGE or IMAGE:MODDIR), absolute from here on; else an unknown alias
            if [ -e "$(from_caller "${1%%:*}")" ]; then
                k=$(from_caller "${1%%:*}")
                if [ "$1" != "${1%%:*}" ]; then k="$k:$(from_caller "${1#*:}")"; fi
                kernels+=("$k")
            else
                kernels+=("$1")
            fi
            ;;
        *) kernels+=("$1") ;;
    esac
    shift
done
[ ${#kernels[@]} -gt 0 ] || usage
[ $tests = 1 ] || [ $bench = 1 ] || tests=1
[ "$(id -u)" -eq 0 ] || die "needs root (the tests and /dev/kvm do)"

# Check every KERNEL before doing anything: a bad one fails at once.
names=()
need_vm=0
for k in "${kernels[@]}"; do
    case "$k" in
        host) names+=(host) ;;
        6.1 | 6.12 | 7.2 | 7.3-rc) names+=("$k"); need_vm=1 ;;
        */* | *.*)
            img=${k%%:*}
            if [ ! -e "$img" ] && [[ $img =~ ^[0-9]+(\.[0-9]+)*(-rc[0-9]*)?$ ]]; then
                die "unknown kernel alias '$k' (known: 6.1 6.12 7.2 7.3-rc; scripts/kernels/fetch.sh --list shows what they are today)"
            fi
            [ -f "$img" ] || die "kernel image $img does not exist"
            if [ "$k" != "$img" ]; then [ -d "${k#*:}" ] || die "modules directory ${k#*:} does not exist"; fi
            names+=("$(basename "$img" | tr -c 'A-Za-z0-9._+\n-' _)")
            need_vm=1
            ;;
        *) die "unknown kernel '$k': host, 6.1, 6.12, 7.2, 7.3-rc or a path to a kernel image" ;;
    esac
done
[ "$(printf '%s\n' "${names[@]}" | sort | uniq -d)" = "" ] || die "a kernel is named twice: ${names[*]}"

# Host tools.
if [ $need_vm = 1 ]; then
    pkgs=()
    command -v qemu-system-x86_64 >/dev/null || pkgs+=(qemu-system-x86)
    { [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static; } || pkgs+=(busybox-static)
    command -v xz >/dev/null || pkgs+=(xz-utils)
    command -v zstd >/dev/null || pkgs+=(zstd)
    command -v file >/dev/null || pkgs+=(file)
    if [ ${#pkgs[@]} -gt 0 ]; then
        say install "${pkgs[*]}"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null) \
            || die "cannot install ${pkgs[*]}"
    fi
fi

# Build once on the host: the test binaries, the probe, the bench.
work=$root/target/kernels/work
mkdir -p "$work" "$out"
list=$work/tests.list
: >"$list"
if [ $tests = 1 ]; then
    say build "test binaries (cargo test --workspace --no-run)"
    cargo test --workspace --no-run --message-format=json 2>"$work/build.err" >"$work/build.json" \
        || { tail -20 "$work/build.err" >&2; die "cargo test --no-run failed"; }
    python3 - "$work/build.json" >"$list" <<'PY'
import json, os, sys
seen = set()
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("profile", {}).get("test") or not m.get("executable"):
        continue
    d = os.path.dirname(m["manifest_path"])
    kind = m["target"]["kind"][0]
    label = os.path.basename(d) + "." + ("lib" if kind == "lib" else m["target"]["name"])
    if label not in seen:
        seen.add(label)
        print(label, d, m["executable"])
        # Since Linux 7.0 listns(2) and nsfs file handles show other processes' namespaces only
        # to root in the initial PID namespace, which the wall (a PID namespace of its own)
        # never is. In a guest (a throwaway VM) these binaries run a second time without the
        # wall, in the guest's initial PID namespace; never on the host (run_host skips them).
        if label in ("nstests.active", "nstests.active_handles", "nscore.inspect"):
            print(label + "@init-pidns", d, m["executable"], "NSWALL=off")
PY
    if [ -n "$only" ]; then
        grep -E "^[^ ]*(${only})[^ ]* " "$list" >"$list.only" || die "--only '$only' matches no test binary"
        mv "$list.only" "$list"
    fi
    say built "$(wc -l <"$list") test binaries"
fi
cargo build -q -p nsmatrix --bins || die "cargo build -p nsmatrix failed"
probe=$root/target/debug/nsmatrix-probe
extras=("$probe=/matrix/nsmatrix-probe")
if [ $bench = 1 ]; then
    say build "quick bench (cargo bench --no-run, nsbench-report)"
    bench_exe=$(cargo bench -p nsbench --bench namespaces --no-run --message-format=json 2>"$work/bench-build.err" \
        | python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "namespaces"][-1])') \
        || { tail -20 "$work/bench-build.err" >&2; die "cargo bench --no-run failed"; }
    cargo build -q --release -p nsbench --bin nsbench-report || die "cargo build nsbench-report failed"
    report_exe=$root/target/release/nsbench-report
    extras+=("$bench_exe=/matrix/bench" "$report_exe=/matrix/nsbench-report")
fi

# Runs the test list here, on the host (each binary inside its own wall), into $1.
run_host() {
    local dir=$1 label d exe t0 rc
    mkdir -p "$dir/tests"
    "$probe" >"$dir/probe.out" 2>&1 || true
    while read -r label d exe env; do
        [ -z "$env" ] || continue # a guest-only run without the wall (see the list above)
        t0=$(date +%s.%N)
        rc=0
        (cd "$d" && timeout -k 10 "$timeout" "$exe" >"$dir/tests/$label.out" 2>"$dir/tests/$label.err" </dev/null) || rc=$?
        progress "$dir" "$label" "$rc" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
    done <"$list"
    if [ $bench = 1 ]; then
        say bench "host: criterion --quick"
        rm -rf "$dir/bench-target"
        (CARGO_TARGET_DIR=$dir/bench-target NSBENCH_ENGINE=host timeout -k 10 "$timeout" "$bench_exe" --bench --quick \
            && NSBENCH_ENGINE=host "$report_exe" report --criterion-dir "$dir/bench-target/criterion" --out "$dir/bench-target/nsbench") \
            >"$dir/bench.out" 2>"$dir/bench.err" </dev/null || say FAILED "host bench: see $dir/bench.err"
        cp "$dir/bench-target/nsbench/results.json" "$dir/results.json" 2>/dev/null || true
    fi
}

# One progress line per test binary; counts from its output. Also writes its .rc.
progress() { # dir label rc seconds
    local dir=$1 f p s n
    printf '%s %s\n' "$3" "$4" >"$dir/tests/$2.rc"
    f=$dir/tests/$2.out
    p=$(grep -c '^test .* \.\.\. ok$' "$f" || true)
    n=$(grep -c '^test .* \.\.\. FAILED$' "$f" || true)
    s=$(grep -c '^SKIPPED ' "$dir/tests/$2.err" || true)
    local word=ok
    [ "$3" = 0 ] || word=FAILED
    say "$word" "$(basename "$dir") $2: $p passed ($s skipped), $n failed, exit $3, ${4}s"
}

# Splits a guest's data channel (ttyS1) into the result files of $2.
split_data() { # data.log dir
    mkdir -p "$2/tests"
    tr -d '\r' <"$1" | awk -v dir="$2" '
        function flush() { if (file != "" && have && pending != "") print pending >>file; pending = ""; have = 0 }
        function target(label, kind) {
            if (label == "probe") return dir "/probe.out"
            if (label == "modules") return dir "/modules.err"
            if (label == "env") return dir "/guest-env.txt"
            if (label == "bench") return kind == "json" ? dir "/results.json" : dir "/bench." kind
            return dir "/tests/" label "." kind
        }
        /^@@BEGIN / { flush(); if (file != "") close(file); file = target($2, $3); printf "" >file; next }
        /^@@RC / { flush(); if (file != "") close(file); file = ""; if ($2 != "bench") print $3, $4 >(dir "/tests/" $2 ".rc"); next }
        /^@@/ { flush(); if (file != "") close(file); file = ""; next }
        file != "" { if (have) print pending >>file; pending = $0; have = 1 }
        END { flush() }'
}

engine=${KERNELS_ENGINE:-}
base=$work/base.cpio
# The engine: KVM when a guest boots with it, else TCG. Probed once, with the first VM kernel.
probe_engine() { # vmlinuz initrd
    if [ -n "$engine" ]; then return; fi
    engine=tcg
    if [ ! -w /dev/kvm ]; then
        say engine "tcg (no usable /dev/kvm)"
        return
    fi
    local d=$work/kvm-probe
    rm -rf "$d" && mkdir -p "$d"
    # in a subshell: a QEMU that aborts (it does when KVM refuses the vCPU) is not the shell's news
    (timeout -k 5 30 qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 512 -nodefaults -display none -no-reboot \
        -kernel "$1" -initrd "$2" -append "console=ttyS0 panic=-1 matrix.mode=boot" \
        -serial "file:$d/console.log" -serial "file:$d/data.log" >"$d/qemu.out" 2>&1 || true) 2>/dev/null
    if grep -q '^@@BOOTED' "$d/data.log" 2>/dev/null; then
        engine=kvm
        say engine "kvm (a probe guest booted under KVM)"
    else
        local why
        why=$(cat "$d/qemu.out" 2>/dev/null | grep -v '^\s*$' | head -1 | sed 's/^qemu-system-x86_64: //' | cut -c1-100)
        say engine "tcg: KVM does not run a guest here (${why:-no boot within 30 s}); QEMU emulates, figures are not comparable with kvm or host"
    fi
}

# Boots one kernel, runs the tests in it, leaves the results in $4.
# The first line of a guest's console that says why it stopped (an oops, a panic), else its last.
why_stopped() { # console.log
    local l
    l=$(tr -d '\r' <"$1" | grep -m1 -E 'Oops|Kernel panic|BUG:|Unable to|VFS:|not syncing' || true)
    [ -n "$l" ] || l=$(tr -d '\r' <"$1" | grep -v '^\s*$' | tail -1)
    echo "$l" | cut -c1-160
}

# One boot of a guest: sets `status` and `message`.
boot_once() { # name vmlinuz initrd dir accel cpu
    local name=$1 img=$2 initrd=$3 dir=$4 rc=0 qpid
    : >"$dir/data.log"
    timeout -k 5 "$vm_timeout" qemu-system-x86_64 -accel "$5" -cpu "$6" -smp 2 -m 2048 -nodefaults -display none \
        -no-reboot -kernel "$img" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 quiet matrix.mode=tests matrix.bench=$bench matrix.timeout=$timeout matrix.engine=$engine" \
        -serial "file:$dir/console.log" -serial "file:$dir/data.log" >"$dir/qemu.out" 2>&1 &
    qpid=$!
    vm_pid=$qpid
    # progress: one line per binary as the guest reports it
    tail -n +1 -s 0.5 --pid="$qpid" -f "$dir/data.log" 2>/dev/null | while read -r tag a b c d e f; do
        f=${f%$'\r'}
        case "$tag" in
            @@BOOTED) say booted "$name: $a" ;;
            @@RC)
                if [ "$a" = bench ]; then say bench "$name: exit $b, ${c}s"; continue; fi
                local word=ok
                [ "$b" = 0 ] || word=FAILED
                say "$word" "$name $a: $d passed, $e failed, $f ignored, exit $b, ${c}s"
                ;;
        esac
    done &
    # waits in `wait`, which a signal interrupts (the traps then take the guest down)
    local ppid=$!
    wait "$qpid" || rc=$?
    wait "$ppid" || true
    vm_pid=""
    message=""
    if grep -q '^@@DONE' "$dir/data.log"; then
        status=ok
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        status=timeout message="the guest did not end within --vm-timeout ${vm_timeout}s and was killed"
    elif ! grep -q '^@@BOOTED' "$dir/data.log" && ! grep -q 'Oops' "$dir/console.log"; then
        status=boot-failed message="the kernel did not boot: $(why_stopped "$dir/console.log") $(head -c 200 "$dir/qemu.out") (qemu exit $rc)"
    else
        status=crashed message="the guest stopped before the end: $(why_stopped "$dir/console.log")"
    fi
}

# Boots one kernel, runs the tests in it, leaves the results in $4. A guest whose kernel
# crashed (an oops, during boot or after) is booted once more (the first console is kept as
# console-1.log): under multi-threaded TCG 7.3-rc7 oopsed in 1 of 3 runs (int3 in
# get_page_from_freelist) and 7.2 at boot (int3 in sched_clock_cpu).
run_vm() { # name vmlinuz moddir dir
    local name=$1 img=$2 moddir=$3 dir=$4 accel cpu status message
    "$root/scripts/kernels/initramfs.sh" modules "$moddir" "$work/mods-$name.cpio" || die "cannot build the modules archive of $name"
    cat "$base" "$work/mods-$name.cpio" >"$work/initrd-$name.cpio"
    probe_engine "$img" "$work/initrd-$name.cpio"
    # TCG runs one vCPU at a time (thread=single): with a host thread per vCPU (MTTCG) the
    # kernels' live text patching (int3 breakpoints while another CPU runs the code) oopsed in
    # about 1 boot of 5 (7.2: int3 in sched_clock_cpu at boot; 7.3-rc7: in
    # get_page_from_freelist); the guest still has 2 CPUs.
    if [ "$engine" = kvm ]; then accel=kvm cpu=host; else accel=tcg,thread=single cpu=max; fi
    echo "engine=$engine" >>"$dir/meta"
    say boot "$name: $(basename "$img") under $engine"
    boot_once "$name" "$img" "$work/initrd-$name.cpio" "$dir" "$accel" "$cpu"
    if [ "$status" = crashed ]; then
        say warning "$name: $message; booting it once more"
        mv "$dir/console.log" "$dir/console-1.log"
        echo "retried=after a crash: $message" >>"$dir/meta"
        boot_once "$name" "$img" "$work/initrd-$name.cpio" "$dir" "$accel" "$cpu"
    fi
    split_data "$dir/data.log" "$dir"
    printf 'status=%s\nmessage=%s\n' "$status" "$message" >>"$dir/meta"
    [ "$status" = ok ] || say FAILED "$name: $status: $message"
    if [ -s "$dir/modules.err" ]; then say warning "$name: insmod: $(head -1 "$dir/modules.err")"; fi
    return 0
}

# ^C or a kill of this script takes the running guest down with it.
vm_pid=""
trap 'if [ -n "$vm_pid" ]; then kill "$vm_pid" 2>/dev/null || true; fi' EXIT
trap 'echo "kernels: interrupted" >&2; exit 130' INT TERM HUP

i=0
for k in "${kernels[@]}"; do
    name=${names[$i]}
    i=$((i + 1))
    dir=$out/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'tests=%s\nbench=%s\n' "$tests" "$bench" >"$dir/meta"
    t0=$(date +%s)
    case "$k" in
        host)
            say host "$(uname -r): the tests here, each binary in its own wall"
            printf 'kernel=host\nversion=%s\nengine=host\n' "$(uname -r)" >>"$dir/meta"
            run_host "$dir"
            echo "status=ok" >>"$dir/meta"
            ;;
        *)
            if [ ! -f "$base" ] || [ -n "$(find "$list" "$root/scripts/kernels" "${extras[@]%%=*}" -newer "$base" 2>/dev/null | head -1)" ] \
                || [ -n "$(while read -r _ _ e _; do find "$e" -newer "$base"; done <"$list" | head -1)" ]; then
                say initramfs "busybox, $(wc -l <"$list") test binaries, their libraries"
                "$root/scripts/kernels/initramfs.sh" base "$list" "${extras[@]}" "$base" || die "cannot build the initramfs"
                say initramfs "$(du -h "$base" | cut -f1)"
            fi
            case "$k" in
                6.1 | 6.12 | 7.2 | 7.3-rc)
                    say fetch "$k"
                    if ! read -r _ pkg ver kdir < <("$root/scripts/kernels/fetch.sh" "$k"); then
                        printf 'kernel=%s\nstatus=fetch-failed\nmessage=cannot fetch Debian kernel %s (see above)\n' "$k" "$k" >>"$dir/meta"
                        say FAILED "$k: cannot fetch the kernel"
                        echo "seconds=$(($(date +%s) - t0))" >>"$dir/meta"
                        continue
                    fi
                    printf 'kernel=%s\npackage=%s\nversion=%s\n' "$k" "$pkg" "$ver" >>"$dir/meta"
                    run_vm "$name" "$kdir/vmlinuz" "$kdir/modules" "$dir"
                    ;;
                *)
                    moddir=""
                    if [ "$k" != "${k%%:*}" ]; then moddir=${k#*:}; fi
                    printf 'kernel=%s\nversion=%s\n' "$k" "$(file -bL "${k%%:*}" | grep -o 'version [^ ]*' | cut -d' ' -f2)" >>"$dir/meta"
                    run_vm "$name" "${k%%:*}" "$moddir" "$dir"
                    ;;
            esac
            ;;
    esac
    echo "seconds=$(($(date +%s) - t0))" >>"$dir/meta"
    say done "$name in $(($(date +%s) - t0))s"
done

say report "${names[*]}"
rc=0
"$root/target/debug/nsmatrix" "$out" "${names[@]}" || rc=$?
if [ $bench = 1 ]; then
    echo
    echo "bench results: $(for n in "${names[@]}"; do [ -f "$out/$n/results.json" ] && printf '%s ' "$out/$n/results.json"; done)"
    echo "compare two:   cargo run -q --release -p nsbench --bin nsbench-report -- compare OLD.json NEW.json"
fi
echo "kernels: $(elapsed) in all"
exit $rc
