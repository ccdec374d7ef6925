//! Kernel memory per live namespace, from `/proc/meminfo` (not a criterion benchmark).

use std::time::Duration;

use nscore::Kind;

use super::holder::Holder;
use super::{MeasureError, Result};

/// System-wide kernel memory before and while a [`Holder`] keeps `count` namespaces of one
/// kind alive, from `/proc/meminfo` (`SUnreclaim`, `Slab` and `Percpu`). Noisy on a busy
/// machine: everything else running changes these too; `SUnreclaim` (where namespace
/// structures live) is the least noisy, `Slab` also counts the reclaimable dentry and inode
/// caches, which other work churns.
#[derive(Debug, Clone, Copy)]
pub struct KernelMemory {
    /// The kind.
    pub kind: Kind,
    /// How many were held.
    pub count: u32,
    /// `SUnreclaim` growth in bytes per namespace.
    pub unreclaimable_per_ns: f64,
    /// `Slab` growth in bytes per namespace.
    pub slab_per_ns: f64,
    /// `Percpu` growth in bytes per namespace.
    pub percpu_per_ns: f64,
}

// By hand, not `procfs::Meminfo`, which fails when any of the ~20 fields it requires is missing
// (this reads only the three it needs).
fn meminfo_kb(field: &str) -> Result<i64> {
    let text =
        std::fs::read_to_string("/proc/meminfo").map_err(|e| MeasureError::Other(format!("/proc/meminfo: {e}")))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .ok_or_else(|| MeasureError::Other(format!("no {field} in /proc/meminfo")))
}

/// Measures [`KernelMemory`] for `count` namespaces of `kind` (not user: see [`Holder`]):
/// `rounds` times (before, while held), keeping the median growth of each field.
pub fn kernel_memory(kind: Kind, count: u32, rounds: u32) -> Result<KernelMemory> {
    if count == 0 || rounds == 0 {
        return Err(MeasureError::Other("count and rounds must be at least 1".into()));
    }
    const FIELDS: [&str; 3] = ["SUnreclaim", "Slab", "Percpu"];
    let read = || -> Result<[i64; 3]> { Ok([meminfo_kb(FIELDS[0])?, meminfo_kb(FIELDS[1])?, meminfo_kb(FIELDS[2])?]) };
    let mut growth: [Vec<f64>; 3] = Default::default();
    for _ in 0..rounds {
        settle(Duration::from_secs(4))?;
        let before = read()?;
        let holder = Holder::new(kind, count)?;
        let during = read()?;
        drop(holder);
        for i in 0..3 {
            growth[i].push((during[i] - before[i]) as f64 * 1024.0 / count as f64);
        }
    }
    let mut median = |i: usize| {
        let v = &mut growth[i];
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(KernelMemory {
        kind,
        count,
        unreclaimable_per_ns: median(0),
        slab_per_ns: median(1),
        percpu_per_ns: median(2),
    })
}

/// Waits (at most `max`) until `SUnreclaim` stops moving: the deferred teardown of earlier
/// namespaces (network namespaces above all) frees memory for a while after they are dropped,
/// and would make the next reading come out negative.
pub fn settle(max: Duration) -> Result<()> {
    let start = std::time::Instant::now();
    let mut last = meminfo_kb("SUnreclaim")?;
    while start.elapsed() < max {
        std::thread::sleep(Duration::from_millis(250));
        let now = meminfo_kb("SUnreclaim")?;
        if (now - last).abs() < 256 {
            return Ok(());
        }
        last = now;
    }
    Ok(())
}

/// The soft limit on open files (`RLIMIT_NOFILE`): a [`Holder`] needs one fd per namespace.
pub fn open_files_limit() -> u64 {
    // None: unlimited.
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}
