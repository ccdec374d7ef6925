//! Provenance: where and how a run was measured (machine, kernel, privilege, criterion
//! settings), and the dates written into results.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a result file came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// How that kernel ran: `host` (the machine itself), `kvm` or `tcg` (a QEMU guest of
    /// `scripts/kernels.sh`; tcg is emulated). From `NSBENCH_ENGINE`; files without it: `host`.
    #[serde(default = "host_engine")]
    pub engine: String,
    /// Machine architecture.
    pub arch: String,
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs in /proc/cpuinfo.
    pub cores: usize,
    /// `root` or `rootless` (effective uid of the reporting process).
    pub privilege: String,
    /// Lines of /proc/self/mountinfo.
    pub mount_count: usize,
    /// Distinct network namespaces among /proc/*/ns/net.
    pub net_namespaces: usize,
    /// `git rev-parse HEAD`, if in a git work tree.
    pub git_commit: Option<String>,
    /// When criterion wrote the newest of the estimates read (else when the report was made),
    /// UTC RFC 3339.
    pub date: String,
    /// Criterion's settings as far as they can be read from its files.
    pub criterion: CriterionSettings,
}

/// Criterion settings discovered from `sample.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CriterionSettings {
    /// `quick` (criterion `--quick`: 2 samples), `full`, or `mixed`.
    pub mode: String,
    /// Fewest samples of any benchmark.
    pub min_samples: usize,
    /// Most samples of any benchmark.
    pub max_samples: usize,
    /// Which saved set was read: `new` (the last run) or a `--save-baseline` name.
    pub baseline: String,
    /// The criterion directory read.
    pub directory: String,
    /// Benchmarks left out because criterion wrote them before this run began (`--since`):
    /// results of earlier or differently filtered runs that are still in the directory.
    #[serde(default)]
    pub left_out_older: Vec<String>,
}

fn host_engine() -> String {
    "host".into()
}

impl Provenance {
    /// Reads provenance of the running machine. Missing sources give `unknown`, never an error.
    // Read by hand, not with the `procfs` crate (tried): it gives the kernel release only as a
    // parsed version (the suffix that tells two builds apart is lost), its `CpuInfo` panics on
    // an empty file, and mountinfo is only counted here; three small readers cost less than
    // three more crates in the build.
    pub fn collect(criterion: CriterionSettings) -> Provenance {
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
        let cores = if cores == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        } else {
            cores
        };
        let privilege = if crate::measure::rootless() { "rootless" } else { "root" }.to_string();
        let mount_count = fs::read_to_string("/proc/self/mountinfo")
            .map(|s| s.lines().count())
            .unwrap_or(0);
        let mut nets = BTreeSet::new();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().bytes().all(|c| c.is_ascii_digit()) {
                    if let Ok(l) = fs::read_link(e.path().join("ns/net")) {
                        nets.insert(l);
                    }
                }
            }
        }
        let git_commit = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty());
        Provenance {
            kernel,
            engine: std::env::var("NSBENCH_ENGINE").unwrap_or_else(|_| host_engine()),
            arch: std::env::consts::ARCH.into(),
            cpu_model,
            cores,
            privilege,
            mount_count,
            net_namespaces: nets.len(),
            git_commit,
            date: rfc3339_now(),
            criterion,
        }
    }

    /// Whether two runs were measured on what looks like the same machine and kernel.
    pub fn same_machine(&self, other: &Provenance) -> bool {
        self.kernel == other.kernel
            && self.engine == other.engine
            && self.cpu_model == other.cpu_model
            && self.cores == other.cores
            && self.arch == other.arch
    }
}

/// The current time as UTC RFC 3339 (`2026-11-29T08:30:10Z`).
pub fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Seconds since the epoch as UTC RFC 3339. RFC 3339 ends with year 9999: later times are
/// written as plain seconds since the epoch.
pub fn rfc3339(secs: u64) -> String {
    // 10000-01-01T00:00:00Z: humantime refuses (panics) from there on.
    const YEAR_10000: u64 = 253_402_300_800;
    if secs >= YEAR_10000 {
        return format!("{secs} s after 1970-01-01T00:00:00Z");
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}
