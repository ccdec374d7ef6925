//! The wall's bounds: a cgroup with a process-count and a memory limit, on cgroup v2 or on the
//! v1 `pids` and `memory` hierarchies, whichever the machine has.
//!
//! The cgroup is made below the caller's own (`<own>/nswall-<pid>-<clock>`), so it works on a
//! host, in a container and under systemd where the caller's cgroup allows children. The outer
//! process joins it before forking the wall's init (so everything inside is counted) and leaves
//! it again; at the end it kills what is left (there should be nothing: the PID namespace
//! ended) and removes the directory. Directories of killed runs (empty, older than ten
//! minutes) are removed on the way.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the wall's cgroup allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most processes (and threads) at once: `pids.max`.
    pub pids: u64,
    /// Most memory in bytes: `memory.max` (v2) or `memory.limit_in_bytes` (v1).
    pub memory: u64,
}

impl Limits {
    /// The default bounds: 512 tasks (the suite needs a few dozen at once) and 8 GiB (the
    /// benchmarks hold a 1 GiB parent and fork it), overridden by `NSWALL_PIDS_MAX` and
    /// `NSWALL_MEMORY_MAX` (bytes).
    pub fn from_env() -> Limits {
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        Limits {
            pids: var("NSWALL_PIDS_MAX", 512),
            memory: var("NSWALL_MEMORY_MAX", 8 << 30),
        }
    }
}

/// One cgroup directory of the wall: the bounded one, the one its processes join (the same on
/// v1; its leaf `run` on v2), and the one the caller came from.
#[derive(Debug)]
struct Dir {
    path: PathBuf,
    enter: PathBuf,
    origin: PathBuf,
}

/// The wall's cgroup: one directory on v2, one per controller on v1.
#[derive(Debug)]
pub struct Bounds {
    dirs: Vec<Dir>,
}

/// Where a controller lives for the caller: v2 (`unified`) or a v1 hierarchy.
#[derive(Debug)]
struct Place {
    own: PathBuf,
    v2: bool,
}

impl Bounds {
    /// Makes the wall's cgroup and writes the limits; `Err` says why it cannot be had here
    /// (the caller then relies on the PID namespace alone).
    pub fn create(limits: &Limits) -> Result<Bounds, String> {
        let pids = place("pids").ok_or("no pids controller is available")?;
        let memory = place("memory");
        // pid and clock: unique also among walls nested in other PID namespaces
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!("nswall-{}-{nanos:x}", std::process::id());
        let mut bounds = Bounds { dirs: Vec::new() };
        let made = (|| {
            let pdir = bounds.make(&pids, &name)?;
            write(&pdir.join("pids.max"), &limits.pids.to_string())?;
            match &memory {
                Some(m) => {
                    let mdir = if m.own == pids.own {
                        pdir
                    } else {
                        bounds.make(m, &name)?
                    };
                    let file = mdir.join(if m.v2 { "memory.max" } else { "memory.limit_in_bytes" });
                    // v2 without the memory controller delegated: bounded by pids alone
                    if !m.v2 || file.exists() {
                        write(&file, &limits.memory.to_string())?;
                    }
                }
                None => return Ok(()),
            }
            Ok(())
        })();
        match made {
            Ok(()) => Ok(bounds),
            Err(e) => {
                bounds.remove();
                Err(e)
            }
        }
    }

    /// Makes the wall's directory `name` for `place` (once per directory) and returns it.
    ///
    /// On v1, `<own>/<name>`. On v2, where a cgroup with processes cannot hand controllers to
    /// children (the "no internal processes" rule), it is made beside the caller's own cgroup
    /// when that one is bounded by its parent (`<own>/..`/<name>), and the wall's processes go
    /// into its leaf `run`, so that `<name>` can delegate `pids` and `memory` to walls nested
    /// in it (which then make theirs beside `run`).
    fn make(&mut self, place: &Place, name: &str) -> Result<PathBuf, String> {
        let base = match place.own.parent() {
            Some(parent) if place.v2 && place.own.join("pids.max").exists() => parent.to_path_buf(),
            _ => place.own.clone(),
        };
        remove_stale(&base);
        let path = base.join(name);
        std::fs::create_dir(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        let mut enter = path.clone();
        if place.v2 {
            if !path.join("pids.max").exists() {
                let _ = std::fs::remove_dir(&path);
                return Err(format!(
                    "{} does not delegate the pids controller to its children",
                    base.display()
                ));
            }
            let offered = std::fs::read_to_string(path.join("cgroup.controllers")).unwrap_or_default();
            let hand: Vec<String> = ["pids", "memory"]
                .iter()
                .filter(|c| offered.split_whitespace().any(|o| o == **c))
                .map(|c| format!("+{c}"))
                .collect();
            // best effort: without it, nested walls are bounded by this one only
            let _ = std::fs::write(path.join("cgroup.subtree_control"), hand.join(" "));
            enter = path.join("run");
            if let Err(e) = std::fs::create_dir(&enter) {
                let _ = std::fs::remove_dir(&path);
                return Err(format!("mkdir {}: {e}", enter.display()));
            }
        }
        self.dirs.push(Dir {
            path: path.clone(),
            enter,
            origin: place.own.clone(),
        });
        Ok(path)
    }

    /// Moves the calling process into the wall's cgroup.
    pub fn enter_self(&self) -> Result<(), String> {
        self.dirs
            .iter()
            .try_for_each(|d| write(&d.enter.join("cgroup.procs"), "0"))
    }

    /// Moves the calling process back where it came from.
    pub fn leave_self(&self) -> Result<(), String> {
        self.dirs
            .iter()
            .try_for_each(|d| write(&d.origin.join("cgroup.procs"), "0"))
    }

    /// Kills whatever is left in the cgroup and removes it, with the cgroups of walls nested in
    /// it (bounded: gives up after ~2 s, and leaves the directory for a later run's sweep).
    pub fn remove(self) {
        for d in &self.dirs {
            remove_tree(&d.path);
        }
    }
}

/// Kills every process in cgroup `dir` and below, and removes the directories bottom-up; tries
/// for about two seconds.
fn remove_tree(dir: &Path) {
    for _ in 0..200 {
        if !dir.exists() {
            return;
        }
        kill_and_prune(dir);
        if std::fs::remove_dir(dir).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One pass over cgroup `dir`: `cgroup.kill` (v2) or `SIGKILL` to each process it lists (v1),
/// then the same below it, removing each sub-cgroup once it is empty.
fn kill_and_prune(dir: &Path) {
    let _ = std::fs::write(dir.join("cgroup.kill"), "1");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) with a pid read from the cgroup; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            kill_and_prune(&e.path());
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// The caller's own cgroup directory for `controller`: its v1 hierarchy if it has one, else
/// the v2 hierarchy if that offers the controller.
fn place(controller: &str) -> Option<Place> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mut v2 = None;
    for line in mounts.lines() {
        // mountinfo: id parent major:minor root mountpoint options ... - fstype source super
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split(' ').collect();
        let rfields: Vec<&str> = right.split(' ').collect();
        let (root, point) = (*fields.get(3)?, *fields.get(4)?);
        match rfields.first().copied() {
            Some("cgroup") => {
                let supers = rfields.get(2).copied().unwrap_or("");
                if supers.split(',').any(|o| o == controller) {
                    // /proc/self/cgroup: id:controllers:path
                    let path = cgroups.lines().find_map(|l| {
                        let mut it = l.splitn(3, ':');
                        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
                        ctrls.split(',').any(|c| c == controller).then_some(path)
                    })?;
                    return Some(Place {
                        own: join(point, root, path),
                        v2: false,
                    });
                }
            }
            Some("cgroup2") if v2.is_none() => v2 = Some((root.to_owned(), point.to_owned())),
            _ => {}
        }
    }
    let (root, point) = v2?;
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let own = join(&point, &root, path);
    let offered = std::fs::read_to_string(own.join("cgroup.controllers")).ok()?;
    offered
        .split_whitespace()
        .any(|c| c == controller)
        .then_some(Place { own, v2: true })
}

/// The directory of cgroup `path` in a hierarchy mounted at `point` with mount root `root`.
fn join(point: &str, root: &str, path: &str) -> PathBuf {
    let rel = path.strip_prefix(root).unwrap_or(path).trim_start_matches('/');
    Path::new(point).join(rel)
}

/// Removes `nswall-*` directories below `dir` that hold no process and were made more than ten
/// minutes ago (left by a run that was killed with `SIGKILL`). The age comes from the clock in
/// the name: a pid says nothing to a wall nested in another PID namespace, and cgroupfs does not
/// keep a directory's creation time. A new wall joins its directory within milliseconds of
/// making it; `rmdir` of a cgroup that holds a process fails anyway.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(made) = name
            .to_str()
            .and_then(|n| n.strip_prefix("nswall-"))
            .and_then(|rest| rest.rsplit_once('-'))
            .and_then(|(_, clock)| u128::from_str_radix(clock, 16).ok())
        else {
            continue;
        };
        let old = now.saturating_sub(made) > Duration::from_secs(600).as_nanos();
        let empty = std::fs::read_to_string(e.path().join("cgroup.procs"))
            .map(|s| s.trim().is_empty())
            .unwrap_or(false);
        if old && empty {
            prune_empty(&e.path());
        }
    }
}

/// Removes `dir` and the cgroups below it, bottom-up, where they hold no process (`rmdir` of a
/// cgroup with a process or a child fails); kills nothing.
fn prune_empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                prune_empty(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("write {value} to {}: {e}", path.display()))
}
