//! Clock offsets of a time namespace (`time_namespaces(7)`).
//!
//! Only `CLOCK_MONOTONIC*` and `CLOCK_BOOTTIME*` can be shifted; `CLOCK_REALTIME` never is.
//! Offsets are written to `/proc/[pid]/timens_offsets` after `unshare(CLONE_NEWTIME)` and before
//! the first process enters the namespace; afterwards the write fails with `EACCES`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use nix::unistd::Pid;

use crate::error::Error;
use crate::error::{Op, Result};

/// Offsets of the two clocks a time namespace can move, as signed nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeOffsets {
    /// Added to `CLOCK_MONOTONIC` (and `_RAW`, `_COARSE`) inside the namespace.
    pub monotonic_ns: i64,
    /// Added to `CLOCK_BOOTTIME` (and `_ALARM`) inside the namespace.
    pub boottime_ns: i64,
}

impl TimeOffsets {
    /// No offset.
    pub const ZERO: TimeOffsets = TimeOffsets {
        monotonic_ns: 0,
        boottime_ns: 0,
    };

    /// Moves both clocks forward by `by`.
    pub fn forward(by: Duration) -> TimeOffsets {
        let ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        TimeOffsets {
            monotonic_ns: ns,
            boottime_ns: ns,
        }
    }

    /// Sets the monotonic offset.
    pub fn monotonic(mut self, ns: i64) -> TimeOffsets {
        self.monotonic_ns = ns;
        self
    }

    /// Sets the boottime offset.
    pub fn boottime(mut self, ns: i64) -> TimeOffsets {
        self.boottime_ns = ns;
        self
    }

    /// The text the kernel expects: `monotonic SECS NANOS` and `boottime SECS NANOS` lines,
    /// with nanoseconds in `0..1e9` and the sign carried by the seconds.
    pub fn to_proc_text(&self) -> String {
        let mut s = String::new();
        for (name, ns) in [("monotonic", self.monotonic_ns), ("boottime", self.boottime_ns)] {
            let secs = ns.div_euclid(1_000_000_000);
            let nanos = ns.rem_euclid(1_000_000_000);
            let _ = writeln!(s, "{name} {secs} {nanos}");
        }
        s
    }
}

/// Writes the offsets of the time namespace that `pid`'s children will enter
/// (`/proc/[pid]/timens_offsets`), in one write.
///
/// Errors: `EACCES` once a process has entered that namespace, `EPERM` without
/// `CAP_SYS_TIME` over it, `EINVAL`/`ERANGE` for bad values.
pub fn write_offsets(pid: Pid, offsets: &TimeOffsets) -> Result<()> {
    write_raw_offsets(pid, &offsets.to_proc_text())
}

/// Writes arbitrary text to `/proc/[pid]/timens_offsets` (for testing the kernel's checks).
pub fn write_raw_offsets(pid: Pid, text: &str) -> Result<()> {
    let path = format!("/proc/{pid}/timens_offsets");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(Op::WriteTimeOffsets, crate::Kind::Time.into(), &path, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(Op::WriteTimeOffsets, crate::Kind::Time.into(), &path, e))
}

/// Reads `/proc/[pid]/timens_offsets`.
pub fn read_offsets(pid: Pid) -> Result<TimeOffsets> {
    let path = format!("/proc/{pid}/timens_offsets");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io(Op::ReadProc, crate::Kind::Time.into(), &path, e))?;
    let mut out = TimeOffsets::ZERO;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [name, secs, nanos] = parts[..] {
            let ns = secs.parse::<i64>().unwrap_or(0) * 1_000_000_000 + nanos.parse::<i64>().unwrap_or(0);
            match name {
                "monotonic" | "1" => out.monotonic_ns = ns,
                "boottime" | "7" => out.boottime_ns = ns,
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_offsets_carry_sign_in_seconds() {
        let t = TimeOffsets::ZERO.monotonic(-1_500_000_000).boottime(86_400_000_000_000);
        assert_eq!(t.to_proc_text(), "monotonic -2 500000000\nboottime 86400 0\n");
    }
}
