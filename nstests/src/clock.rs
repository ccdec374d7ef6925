//! Clock reads for the time-namespace tests, async-signal-safe: through the vDSO (rustix's
//! `clock_gettime`) and as a real system call, in nanoseconds.

pub use rustix::time::{ClockId, Timespec};

/// A `timespec` in nanoseconds.
pub fn ts_ns(ts: &Timespec) -> i64 {
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Nanoseconds as a `timespec`.
pub fn ns_ts(ns: i64) -> Timespec {
    Timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000),
    }
}

/// `clock_gettime` through the vDSO (rustix uses it where the kernel maps one).
pub fn vdso_ns(clock: ClockId) -> i64 {
    ts_ns(&rustix::time::clock_gettime(clock))
}

/// `clock_gettime` as a real system call, past the vDSO: hand-written, as no crate offers a
/// read that bypasses the vDSO (the time tests check both paths).
pub fn sys_ns(clock: ClockId) -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-buffer for the raw system call.
    unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            clock as libc::clockid_t,
            &mut ts as *mut libc::timespec,
        )
    };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
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
