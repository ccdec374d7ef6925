//! Time namespaces, depth items T3–T5: entering a time namespace by `setns` and leaving it,
//! absolute deadlines read in the namespace's time, and `vfork` + exec. Offsets are only
//! written for time namespaces a test's child made; the host's clocks are read, never set.
//! Peers: the kernel's `selftests/timens/{timens,timer,timerfd,clock_nanosleep,vfork_exec}.c`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::AsRawFd;

use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::clock::*;
use nstests::live::*;
use nstests::{run_spawn, Mode, Probe};
use rstest::rstest;

/// Ten days on CLOCK_MONOTONIC, twenty on CLOCK_BOOTTIME (different, so a swap is seen).
const OFFSETS: &[u8] = b"monotonic 864000 0\nboottime 1728000 0\n";
const MONO_NS: i64 = 864_000 * 1_000_000_000;
const BOOT_NS: i64 = 2 * MONO_NS;

/// In a single-threaded child: a process that unshares its time namespace (in `Unshare` mode;
/// `None` does not) and writes [`OFFSETS`], then waits on `go`; its pid as the tests' `/proc`
/// numbers it is written to `wr`.
fn offset_holder(mode: Mode, wr: i32, go: [i32; 2], p: &Probe) -> libc::pid_t {
    // SAFETY: until it exits, the forked process makes only raw system calls on memory made before
    // the fork.
    match unsafe { fork() } {
        Ok(0) => {
            // SAFETY: this process owns its copy of `go[1]` (a pipe end or fd made for this test)
            // and does not use it again.
            unsafe { nstests::child::close(go[1]) };
            if mode == Mode::Unshare && !unshare_time(OFFSETS, p) {
                raw::exit(2);
            }
            put_i64(wr, readlink_num(c"/proc/self"));
            wait(go[0]);
            raw::exit(0)
        }
        Ok(pid) => pid,
        Err(_) => -1,
    }
}

/// Reports CLOCK_MONOTONIC and CLOCK_BOOTTIME, by vDSO and system call, under `keys`.
fn measure(p: &Probe, keys: [&[u8]; 4]) {
    p.line_num(keys[0], vdso_ns(ClockId::Monotonic));
    p.line_num(keys[1], sys_ns(ClockId::Monotonic));
    p.line_num(keys[2], vdso_ns(ClockId::Boottime));
    p.line_num(keys[3], sys_ns(ClockId::Boottime));
}

/// T3: `setns` into a time namespace with offsets shifts the caller's own clocks at once,
/// each by its own offset (vDSO and system call), and `setns` back to the original one
/// undoes it. Control: joining a process's namespace that has no offsets changes nothing.
/// The caller starts in a scratch time namespace without offsets (which the scaffold's user
/// namespace owns when not root), so that it may join back.
#[rstest]
#[case::none(Mode::None)]
#[case::unshare(Mode::Unshare)]
fn t3_setns_into_time_namespace_and_back(#[case] mode: Mode) {
    let child_body = |p: &Probe| {
        let ([rd, wr], go) = (pipe(), pipe());
        if rd < 0 || go[0] < 0 {
            return 1;
        }
        let holder = offset_holder(mode, wr, go, p);
        // SAFETY: this process owns its copy of `wr` (a pipe end or fd made for this test) and does
        // not use it again.
        unsafe { nstests::child::close(wr) };
        let Some(outer) = get_i64(rd) else {
            return 2;
        };
        let own = match raw::open(c"/proc/self/ns/time") {
            Ok(fd) => fd,
            Err(_) => return 3,
        };
        let mut buf = [0u8; 64];
        let target = match raw::open(proc_path(&mut buf, outer, b"/ns/time_for_children")) {
            Ok(fd) => fd,
            Err(e) => {
                p.line_num(b"open_errno", e as i64);
                return 4;
            }
        };
        measure(
            p,
            [
                b"before_mono_vdso",
                b"before_mono_sys",
                b"before_boot_vdso",
                b"before_boot_sys",
            ],
        );
        if let Err(e) = raw::setns(target, Kind::Time.into()) {
            p.line_num(b"setns_errno", e as i64);
            return 5;
        }
        measure(p, [b"in_mono_vdso", b"in_mono_sys", b"in_boot_vdso", b"in_boot_sys"]);
        if let Err(e) = raw::setns(own, Kind::Time.into()) {
            p.line_num(b"setns_back_errno", e as i64);
            return 6;
        }
        measure(
            p,
            [b"back_mono_vdso", b"back_mono_sys", b"back_boot_vdso", b"back_boot_sys"],
        );
        signal(go[1]);
        raw::reap(holder).unwrap_or(99)
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(Kind::Time.into()), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    let (mono, boot) = if mode.isolates() { (MONO_NS, BOOT_NS) } else { (0, 0) };
    // each reading lies between the ones before and after it (within a minute of scheduling)
    let slack = 60_000_000_000;
    for (clock, off) in [("mono", mono), ("boot", boot)] {
        for how in ["vdso", "sys"] {
            let key = |stage: &str| out.num(&format!("{stage}_{clock}_{how}"));
            let (before, inside, back) = (key("before"), key("in"), key("back"));
            let shift = inside - before;
            assert!(
                (off..off + slack).contains(&shift),
                "mode {mode}: {clock} ({how}) moved by {shift} ns inside, want {off}: {t}"
            );
            assert!(
                (0..slack).contains(&(back - before)),
                "mode {mode}: {clock} ({how}) is back after setns back: {t}"
            );
        }
    }
}

extern "C" fn on_alarm(_: libc::c_int) {}

/// Arms SIGALRM in `ms` milliseconds (a handler that does nothing, no SA_RESTART, so that a
/// sleep is cut short with EINTR); `ms` 0 disarms.
///
/// Hand-written: installing a handler is unsafe in every crate (nix's `sigaction` too), and
/// neither rustix nor nix has `setitimer`.
fn alarm_in(ms: i64) {
    // SAFETY: sigaction and setitimer with valid, fully initialised structures; the handler
    // does nothing, so it is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as usize;
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        let it = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval {
                tv_sec: ms / 1000,
                tv_usec: (ms % 1000) * 1000,
            },
        };
        libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut());
    }
}

/// `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, at)` cut short after `cap_ms`: 0 when the
/// deadline came, else the errno (EINTR: it had not come).
fn sleep_until(at: i64, cap_ms: i64) -> i64 {
    alarm_in(cap_ms);
    let r = rustix::thread::clock_nanosleep_absolute(ClockId::Monotonic, &ns_ts(at));
    alarm_in(0);
    err_code(r)
}

/// A timerfd on CLOCK_MONOTONIC armed for absolute `at`: whether it fires within `ms`.
fn timerfd_fires(at: i64, ms: i32) -> i64 {
    use rustix::time::{timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};
    let fd = match timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => return -1 - e.raw_os_error() as i64,
    };
    let spec = Itimerspec {
        it_interval: ns_ts(0),
        it_value: ns_ts(at),
    };
    if let Err(e) = timerfd_settime(&fd, TimerfdTimerFlags::ABSTIME, &spec) {
        return -1 - e.raw_os_error() as i64;
    }
    // SAFETY: `fd` is the timerfd just made, open until it drops at the end of this function.
    unsafe { readable_within(fd.as_raw_fd(), ms) as i64 }
}

/// A POSIX timer on CLOCK_MONOTONIC (SIGUSR1, blocked) armed for absolute `at`: whether its
/// signal comes within `ms`. Raw system calls, hand-written: glibc's `timer_create` (and so
/// nix's `Timer`) may start a thread, rustix has no POSIX timers, and no crate has
/// `sigtimedwait`.
fn posix_timer_fires(at: i64, ms: i64) -> i64 {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    let _ = set.thread_block();
    let raw_ts = |ns: i64| {
        let t = ns_ts(ns);
        libc::timespec {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec,
        }
    };
    // SAFETY: plain data structures, all fields set or zero; the timer is deleted below.
    unsafe {
        let mut sev: libc::sigevent = std::mem::zeroed();
        sev.sigev_notify = libc::SIGEV_SIGNAL;
        sev.sigev_signo = libc::SIGUSR1;
        let mut id: libc::c_int = 0;
        if libc::syscall(libc::SYS_timer_create, libc::CLOCK_MONOTONIC, &sev, &mut id) != 0 {
            return -1 - errno();
        }
        let spec = libc::itimerspec {
            it_interval: raw_ts(0),
            it_value: raw_ts(at),
        };
        if libc::syscall(
            libc::SYS_timer_settime,
            id,
            libc::TIMER_ABSTIME,
            &spec,
            std::ptr::null_mut::<libc::itimerspec>(),
        ) != 0
        {
            return -1 - errno();
        }
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ts = raw_ts(ms * 1_000_000);
        let fired = libc::sigtimedwait(set.as_ref(), &mut info, &ts) == libc::SIGUSR1;
        libc::syscall(libc::SYS_timer_delete, id);
        fired as i64
    }
}

/// T4: absolute deadlines inside a time namespace are read in the namespace's time, by
/// `clock_nanosleep(TIMER_ABSTIME)`, a timerfd and a POSIX timer alike. A deadline 1000 s
/// after the parent's CLOCK_MONOTONIC lies ten days in the past inside: it has come at once
/// (the 200 ms cap does not cut the sleep short); one 20 ms after the namespace's own now
/// comes too. Control: without the namespace the first deadline has not come within the cap.
#[rstest]
#[case::none(Mode::None)]
#[case::unshare(Mode::Unshare)]
fn t4_absolute_deadlines_use_namespace_time(#[case] mode: Mode) {
    let host_deadline = vdso_ns(ClockId::Monotonic) + 1_000_000_000_000;
    let child_body = |p: &Probe| {
        if mode == Mode::Unshare && !unshare_time(OFFSETS, p) {
            return 1;
        }
        let gc_body = || {
            p.line_num(b"sleep_host", sleep_until(host_deadline, 200));
            p.line_num(b"timerfd_host", timerfd_fires(host_deadline, 200));
            p.line_num(b"timer_host", posix_timer_fires(host_deadline, 200));
            let soon = || vdso_ns(ClockId::Monotonic) + 20_000_000;
            p.line_num(b"sleep_own", sleep_until(soon(), 10_000));
            p.line_num(b"timerfd_own", timerfd_fires(soon(), 10_000));
            p.line_num(b"timer_own", posix_timer_fires(soon(), 10_000));
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        unsafe { run_child(p, KindSet::EMPTY, gc_body) }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    out.assert_ok();
    let t = out.text();
    assert_eq!(out.num("sleep_own"), 0, "{t}");
    assert_eq!(out.num("timerfd_own"), 1, "{t}");
    assert_eq!(out.num("timer_own"), 1, "{t}");
    if mode.isolates() {
        assert_eq!(out.num("sleep_host"), 0, "mode {mode}: in the past inside: {t}");
        assert_eq!(out.num("timerfd_host"), 1, "mode {mode}: {t}");
        assert_eq!(out.num("timer_host"), 1, "mode {mode}: {t}");
    } else {
        assert_eq!(out.num("sleep_host"), libc::EINTR as i64, "control: not yet: {t}");
        assert_eq!(out.num("timerfd_host"), 0, "control: {t}");
        assert_eq!(out.num("timer_host"), 0, "control: {t}");
    }
}

/// T5: a process that unshared its time namespace (and wrote its offsets) runs a program by
/// `vfork` + exec (glibc's `posix_spawn`: `clone(CLONE_VM|CLONE_VFORK)`), and the program is
/// in the new namespace: `/proc/uptime` is twenty days later. Control: without the unshare it
/// is the parent's uptime.
#[rstest]
#[case::none(Mode::None)]
#[case::unshare(Mode::Unshare)]
fn t5_vfork_exec_runs_in_the_unshared_time_namespace(#[case] mode: Mode) {
    let host_up = uptime();
    let child_body = |p: &Probe| {
        if mode == Mode::Unshare && !unshare_time(OFFSETS, p) {
            return 1;
        }
        // the program writes straight into the probe
        if p.to_stdout().is_err() {
            return 2;
        }
        let argv = [c"/bin/cat".as_ptr(), c"/proc/uptime".as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null::<libc::c_char>()];
        let mut pid: libc::pid_t = 0;
        p.put(b"uptime=");
        // SAFETY: NUL-terminated argv and envp arrays of static strings; no file actions or
        // attributes (null), so posix_spawn allocates nothing. Hand-written: glibc's
        // posix_spawn (a vfork-style clone, what T5 checks) is in neither rustix nor nix.
        let r = unsafe {
            libc::posix_spawn(
                &mut pid,
                argv[0],
                std::ptr::null(),
                std::ptr::null(),
                argv.as_ptr() as *const *mut libc::c_char,
                envp.as_ptr() as *const *mut libc::c_char,
            )
        };
        if r != 0 {
            p.line_num(b"\nspawn_errno", r as i64);
            return 3;
        }
        let code = raw::reap(pid).unwrap_or(99);
        p.line_num(b"cat_exit", code as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(scaffold(KindSet::EMPTY), child_body) }.unwrap();
    let t = out.text();
    // Before Linux 6.3 (commit 133e2d3e81de, "fs/exec: allow to unshare a time namespace on
    // vfork+exec") a CLONE_VM child of a process whose time_for_children is new is refused.
    if mode.isolates() && nscore::inspect::kernel_version() < (6, 3) {
        assert_eq!(out.get("spawn_errno").as_deref(), Some("22"), "EINVAL before 6.3: {t}");
        nstests::skip(
            "t5_vfork_exec_runs_in_the_unshared_time_namespace::unshare",
            "vfork into a new time namespace came in Linux 6.3; checked that it is EINVAL here",
        );
        return;
    }
    out.assert_ok();
    assert_eq!(out.num("cat_exit"), 0, "{t}");
    let up: f64 = out
        .str("uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no uptime: {t}"));
    let shift = up - host_up;
    let want = if mode.isolates() {
        (BOOT_NS / 1_000_000_000) as f64
    } else {
        0.0
    };
    assert!(
        (want..want + 60.0).contains(&shift),
        "mode {mode}: uptime {up} vs the parent's {host_up}: {t}"
    );
}
