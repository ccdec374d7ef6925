//! Time namespaces (checklist T1–T2). Offsets are only ever written for new time namespaces
//! that a child made; the host's clocks are read, never set.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::time::Duration;

use nscore::timens::write_offsets;
use nscore::{raw, Errno, Kind, KindSet, Op, TimeOffsets};
use nstests::child::*;
use nstests::clock::*;
use nstests::live::*;
use nstests::{run_spawn, Mode, Probe};
use rstest::rstest;

/// The offsets the tests use, far beyond any scheduling delay and different per clock (a swap
/// would be seen): ten days for CLOCK_MONOTONIC, twenty for CLOCK_BOOTTIME.
const OFF_SECS: i64 = 864_000;
const OFF_NS: i64 = OFF_SECS * 1_000_000_000;
const BOOT_OFF_SECS: i64 = 2 * OFF_SECS;
const BOOT_OFF_NS: i64 = BOOT_OFF_SECS * 1_000_000_000;

/// The offsets as nscore's builder takes them.
fn offsets() -> TimeOffsets {
    TimeOffsets::forward(Duration::from_secs(OFF_SECS as u64)).boottime(BOOT_OFF_NS)
}

/// T1 (and T3's first half): offsets written before the first process enters shift
/// CLOCK_MONOTONIC and CLOCK_BOOTTIME in the child, each by its own offset (ten and twenty
/// days: swapped offsets fail), vDSO and system call alike, not CLOCK_REALTIME, and not the
/// parent's clocks. Control: without the namespace the child's clocks are the parent's.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn t1_offsets_shift_monotonic_and_boottime_only(#[case] mode: Mode) {
    let spawn = match mode {
        // nscore's runner: unshare(CLONE_NEWTIME), write the offsets, enter by setns
        Mode::Clone => scaffold(Kind::Time.into()).time_offsets(offsets()),
        _ => scaffold(KindSet::EMPTY),
    };
    let (m0, b0, r0) = (
        vdso_ns(ClockId::Monotonic),
        vdso_ns(ClockId::Boottime),
        vdso_ns(ClockId::Realtime),
    );
    let child_body = |p: &Probe| {
        if mode == Mode::Unshare && !unshare_time(b"monotonic 864000 0\nboottime 1728000 0\n", p) {
            return 1;
        }
        let measure = |p: &nstests::Probe| {
            p.line_num(b"mono_vdso", vdso_ns(ClockId::Monotonic));
            p.line_num(b"mono_sys", sys_ns(ClockId::Monotonic));
            p.line_num(b"boot_vdso", vdso_ns(ClockId::Boottime));
            p.line_num(b"boot_sys", sys_ns(ClockId::Boottime));
            p.line_num(b"real_vdso", vdso_ns(ClockId::Realtime));
            p.line_num(b"real_sys", sys_ns(ClockId::Realtime));
        };
        if mode == Mode::Unshare {
            // the time namespace is for the children: the grandchild measures
            // SAFETY: until it exits, the forked process makes only raw system calls on memory made
            // before the fork.
            match unsafe { fork() } {
                Ok(0) => {
                    measure(p);
                    raw::exit(0)
                }
                Ok(c) => raw::reap(c).unwrap_or(99),
                Err(e) => {
                    p.line_num(b"fork_errno", e as i64);
                    1
                }
            }
        } else {
            measure(p);
            0
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(spawn, child_body) }.unwrap();
    let (m1, b1, r1) = (
        vdso_ns(ClockId::Monotonic),
        vdso_ns(ClockId::Boottime),
        vdso_ns(ClockId::Realtime),
    );
    out.assert_ok();
    let (off, boff) = if mode.isolates() { (OFF_NS, BOOT_OFF_NS) } else { (0, 0) };
    for (key, lo, hi) in [
        ("mono_vdso", m0 + off, m1 + off),
        ("mono_sys", m0 + off, m1 + off),
        ("boot_vdso", b0 + boff, b1 + boff),
        ("boot_sys", b0 + boff, b1 + boff),
        ("real_vdso", r0, r1),
        ("real_sys", r0, r1),
    ] {
        let v = out.num(key);
        assert!(
            (lo..=hi).contains(&v),
            "mode {mode}: {key}={v} not in [{lo}, {hi}]: {}",
            out.text()
        );
    }
    assert!(m1 - m0 < OFF_NS, "the parent's clock did not move");
}

/// T1 (exec): the offsets hold across `execve`: `/proc/uptime` (CLOCK_BOOTTIME) read by a
/// program run in the namespace is twenty days later (the boottime offset, not the monotonic
/// one). Control: without the namespace it is not.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
fn t1_offsets_hold_across_exec(#[case] mode: Mode) {
    let spawn = match mode {
        Mode::Clone => scaffold(Kind::Time.into()).time_offsets(offsets()),
        _ => scaffold(KindSet::EMPTY),
    };
    let host_up = uptime();
    let out = spawn.output("/bin/cat", ["/proc/uptime"]).unwrap();
    assert!(out.status.success(), "{:?}", out);
    let text = String::from_utf8_lossy(&out.stdout);
    let up: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    let shift = up - host_up;
    if mode.isolates() {
        assert!(
            shift >= BOOT_OFF_SECS as f64 && shift < BOOT_OFF_SECS as f64 + 60.0,
            "uptime {up} vs host {host_up}"
        );
    } else {
        assert!((0.0..60.0).contains(&shift), "control: uptime {up} vs host {host_up}");
    }
}

/// T2: offsets can be written after `unshare(CLONE_NEWTIME)` until the first process enters
/// (then EACCES, also through nscore with a hint); bad lines are refused: an unknown clock,
/// nanoseconds out of range or negative, garbage, a missing field and a bad second line of a
/// two-line write give EINVAL (and the write's good first line does not take effect either),
/// a clock pushed out of range gives ERANGE. Control: a good line before entry works and is
/// read back.
#[test]
fn t2_offsets_after_entry_and_bad_lines_are_refused() {
    let child_body = |p: &Probe| {
        if let Err(e) = raw::unshare(Kind::Time.into()) {
            p.line_num(b"unshare_errno", e as i64);
            return 1;
        }
        let cases: [(&[u8], &[u8]); 9] = [
            (b"bad_clock", b"realtime 1 0\n"),
            (b"bad_nanos", b"monotonic 1 1000000000\n"),
            (b"negative_nanos", b"monotonic 1 -1\n"),
            (b"garbage", b"hello\n"),
            (b"missing_field", b"monotonic 1\n"),
            (b"bad_second_line", b"boottime 7 0\nbogus 1 0\n"),
            (b"too_far", b"monotonic 9000000000 0\n"),
            (b"too_far_back", b"boottime -9000000000 0\n"),
            (b"good_before", b"monotonic 1 0\n"),
        ];
        for (key, line) in cases {
            let e = err_of(write_file(c"/proc/self/timens_offsets", line));
            p.line_num(key, e);
        }
        // what stuck: only the good line (the refused two-line write left boottime alone)
        let mut buf = [0u8; 256];
        p.put(b"offsets<<\n");
        p.put(nstests::read_small(c"/proc/self/timens_offsets", &mut buf));
        p.put(b"\n>>\n");
        // SAFETY: until it exits, the forked process makes only raw system calls on memory made
        // before the fork.
        match unsafe { fork() } {
            Ok(0) => raw::exit(0),
            Ok(c) => {
                let _ = raw::reap(c);
            }
            Err(e) => {
                p.line_num(b"fork_errno", e as i64);
                return 1;
            }
        }
        let e = err_of(write_file(c"/proc/self/timens_offsets", b"monotonic 2 0\n"));
        p.line_num(b"after_entry", e);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    assert_eq!(out.num("bad_clock"), libc::EINVAL as i64, "{}", out.text());
    for key in [
        "bad_nanos",
        "negative_nanos",
        "garbage",
        "missing_field",
        "bad_second_line",
    ] {
        assert_eq!(out.num(key), libc::EINVAL as i64, "{key}: {}", out.text());
    }
    let text = out.text();
    let stuck: Vec<Vec<&str>> = text
        .split("offsets<<\n")
        .nth(1)
        .and_then(|t| t.split("\n>>").next())
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        stuck,
        [["monotonic", "1", "0"], ["boottime", "0", "0"]],
        "only the good line took effect: {text}"
    );
    assert_eq!(out.num("too_far"), libc::ERANGE as i64, "{}", out.text());
    assert_eq!(out.num("too_far_back"), libc::ERANGE as i64, "{}", out.text());
    assert_eq!(
        out.num("good_before"),
        0,
        "control: a good line before entry: {}",
        out.text()
    );
    assert_eq!(out.num("after_entry"), libc::EACCES as i64, "{}", out.text());

    // through nscore: a child made in a new time namespace has entered it
    // SAFETY: run in the fork-like child below, which never runs past this call.
    let hold = || unsafe { pause_forever() };
    // SAFETY: the child only closes its copies of fds and pauses (raw system calls).
    let child = unsafe { scaffold(Kind::Time.into()).run(hold) }.unwrap();
    let err = write_offsets(child.pid(), &TimeOffsets::forward(Duration::from_secs(1))).unwrap_err();
    assert_eq!(err.op(), Op::WriteTimeOffsets, "{err}");
    assert_eq!(err.errno(), Some(Errno::EACCES), "{err}");
    assert!(
        err.hint().unwrap_or_default().contains("before the first process"),
        "{err}"
    );
}
