//! The host state a run must leave as it was: what `.ci/run` compares, read by the harness
//! from its own (the host's) namespaces.

use std::fmt;

/// One reading of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `(what, value)` pairs, in a fixed order.
    items: Vec<(&'static str, String)>,
}

impl Snapshot {
    /// Reads hostname, NIS domain name, the number of mounts, the network interfaces, the
    /// System V IPC objects, the POSIX message queues and the namespace limits.
    pub fn take() -> Snapshot {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| format!("<{e}>"));
        let names = |dir: &str| match std::fs::read_dir(dir) {
            Ok(d) => {
                let mut v: Vec<String> = d
                    .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect();
                v.sort();
                v.join(" ")
            }
            Err(e) => format!("<{e}>"),
        };
        // the objects' lines without the header (ids and keys, not the changing times)
        let ipc = |p: &str| {
            read(p)
                .lines()
                .skip(1)
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let limits = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
            .map(|k| {
                let v = read(&format!("/proc/sys/user/max_{k}_namespaces"));
                format!("{k}={}", v.trim())
            })
            .join(" ");
        Snapshot {
            items: vec![
                ("hostname", read("/proc/sys/kernel/hostname").trim().to_owned()),
                ("domainname", read("/proc/sys/kernel/domainname").trim().to_owned()),
                ("mounts", read("/proc/self/mountinfo").lines().count().to_string()),
                ("interfaces", names("/sys/class/net")),
                ("shm", ipc("/proc/sysvipc/shm")),
                ("msg", ipc("/proc/sysvipc/msg")),
                ("sem", ipc("/proc/sysvipc/sem")),
                ("mqueues", names("/dev/mqueue")),
                ("limits", limits),
            ],
        }
    }

    /// The items that differ from `before`, as `what: before -> now` lines.
    pub fn changes_since(&self, before: &Snapshot) -> Vec<String> {
        before
            .items
            .iter()
            .zip(&self.items)
            .filter(|(b, a)| b != a)
            .map(|((what, b), (_, a))| format!("{what}: {b:?} -> {a:?}"))
            .collect()
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, v) in &self.items {
            writeln!(f, "  {what}: {v}")?;
        }
        Ok(())
    }
}

/// The number of processes on the machine (seen from the harness's PID namespace).
pub fn process_count() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
                .count()
        })
        .unwrap_or(0)
}
