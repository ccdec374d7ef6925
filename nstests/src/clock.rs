//! Clock reads for the time-namespace tests, async-signal-safe: through the vDSO (libc's
//! `clock_gettime`) and as a real system call, in nanoseconds.

/// A `timespec` in nanoseconds.
pub fn ts_ns(ts: &libc::timespec) -> i64 {
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Nanoseconds as a `timespec`.
pub fn ns_ts(ns: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000),
    }
}

/// `clock_gettime` through the vDSO (libc).
pub fn vdso_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-buffer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts_ns(&ts)
}

/// `clock_gettime` as a real system call (no vDSO).
pub fn sys_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-buffer for the raw system call.
    unsafe { libc::syscall(libc::SYS_clock_gettime, clock, &mut ts as *mut libc::timespec) };
    ts_ns(&ts)
}

/// In a child: `unshare(CLONE_NEWTIME)` and write `offsets` (the text of
/// `/proc/self/timens_offsets`) for the namespace the caller's children will enter. On error
/// reports `unshare_errno` or `offsets_errno` and returns `false`.
pub fn unshare_time(offsets: &[u8], p: &crate::Probe) -> bool {
    if let Err(e) = nscore::raw::unshare(nscore::Kind::Time.into()) {
        p.line_num(b"unshare_errno", e as i64);
        return false;
    }
    if let Err(e) = crate::child::write_file(c"/proc/self/timens_offsets", offsets) {
        p.line_num(b"offsets_errno", e as i64);
        return false;
    }
    true
}

/// In the test thread: the first number of `/proc/uptime` (CLOCK_BOOTTIME, in seconds).
pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .expect("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number in /proc/uptime")
}
