//! The eight kinds of Linux namespace and sets of them.
//!
//! Each [`Kind`] knows the kernel's names for itself: its `CLONE_NEW*` flag, the file
//! name under `/proc/[pid]/ns/`, its limit file under `/proc/sys/user/` and its man page.
//! A [`KindSet`] holds several kinds at once, as the flags argument of `clone(2)`,
//! `unshare(2)` and `setns(2)` does.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Op};

/// `CLONE_NEWTIME` (since Linux 5.6). Not in `nix` (nix issue 2574); `libc` has it, spelled
/// here so the value is visible: it lies inside the exit-signal byte of the legacy `clone()`
/// flags, which is why only `clone3(2)` can carry it.
pub const CLONE_NEWTIME: libc::c_int = 0x80;

/// One kind of Linux namespace (see `namespaces(7)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Cgroup root directory (`cgroup_namespaces(7)`, `CLONE_NEWCGROUP`).
    Cgroup,
    /// System V IPC and POSIX message queues (`ipc_namespaces(7)`, `CLONE_NEWIPC`).
    Ipc,
    /// Network devices, stacks, ports (`network_namespaces(7)`, `CLONE_NEWNET`).
    Net,
    /// Mount points (`mount_namespaces(7)`, `CLONE_NEWNS`).
    Mnt,
    /// Process IDs (`pid_namespaces(7)`, `CLONE_NEWPID`).
    Pid,
    /// Boot and monotonic clocks (`time_namespaces(7)`, `CLONE_NEWTIME`).
    Time,
    /// User and group IDs (`user_namespaces(7)`, `CLONE_NEWUSER`).
    User,
    /// Hostname and NIS domain name (`uts_namespaces(7)`, `CLONE_NEWUTS`).
    Uts,
}

impl Kind {
    /// All eight kinds, in the order of the enum (and of the bits of a [`KindSet`]): cgroup,
    /// ipc, net, mnt, pid, time, user, uts. Sort by [`Kind::name`] for the alphabetical order
    /// that `ls /proc/self/ns` shows.
    pub const ALL: [Kind; 8] = [
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Net,
        Kind::Mnt,
        Kind::Pid,
        Kind::Time,
        Kind::User,
        Kind::Uts,
    ];

    /// The `CLONE_NEW*` flag that creates a namespace of this kind.
    pub const fn clone_flag(self) -> libc::c_int {
        match self {
            Kind::Cgroup => libc::CLONE_NEWCGROUP,
            Kind::Ipc => libc::CLONE_NEWIPC,
            Kind::Net => libc::CLONE_NEWNET,
            Kind::Mnt => libc::CLONE_NEWNS,
            Kind::Pid => libc::CLONE_NEWPID,
            Kind::Time => CLONE_NEWTIME,
            Kind::User => libc::CLONE_NEWUSER,
            Kind::Uts => libc::CLONE_NEWUTS,
        }
    }

    /// The kind whose `CLONE_NEW*` flag is `flag` (as `NS_GET_NSTYPE` returns it).
    pub fn from_clone_flag(flag: libc::c_int) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.clone_flag() == flag)
    }

    /// The kernel's short name, also the file name in `/proc/[pid]/ns/` (`mnt`, `net`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup",
            Kind::Ipc => "ipc",
            Kind::Net => "net",
            Kind::Mnt => "mnt",
            Kind::Pid => "pid",
            Kind::Time => "time",
            Kind::User => "user",
            Kind::Uts => "uts",
        }
    }

    /// The name of the `CLONE_NEW*` flag, for messages (`CLONE_NEWNS` for mnt).
    pub const fn flag_name(self) -> &'static str {
        match self {
            Kind::Cgroup => "CLONE_NEWCGROUP",
            Kind::Ipc => "CLONE_NEWIPC",
            Kind::Net => "CLONE_NEWNET",
            Kind::Mnt => "CLONE_NEWNS",
            Kind::Pid => "CLONE_NEWPID",
            Kind::Time => "CLONE_NEWTIME",
            Kind::User => "CLONE_NEWUSER",
            Kind::Uts => "CLONE_NEWUTS",
        }
    }

    /// The `/proc/[pid]/ns/` entry through which the next children of a process enter,
    /// for the two kinds where it can differ from the process's own (`pid_for_children`,
    /// `time_for_children`).
    pub const fn for_children_name(self) -> Option<&'static str> {
        match self {
            Kind::Pid => Some("pid_for_children"),
            Kind::Time => Some("time_for_children"),
            _ => None,
        }
    }

    /// The per-user-namespace limit file, `/proc/sys/user/max_<kind>_namespaces`.
    pub const fn limit_file(self) -> &'static str {
        match self {
            Kind::Cgroup => "/proc/sys/user/max_cgroup_namespaces",
            Kind::Ipc => "/proc/sys/user/max_ipc_namespaces",
            Kind::Net => "/proc/sys/user/max_net_namespaces",
            Kind::Mnt => "/proc/sys/user/max_mnt_namespaces",
            Kind::Pid => "/proc/sys/user/max_pid_namespaces",
            Kind::Time => "/proc/sys/user/max_time_namespaces",
            Kind::User => "/proc/sys/user/max_user_namespaces",
            Kind::Uts => "/proc/sys/user/max_uts_namespaces",
        }
    }

    /// The man page that describes this kind, e.g. `network_namespaces(7)`.
    pub const fn man_page(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup_namespaces(7)",
            Kind::Ipc => "ipc_namespaces(7)",
            Kind::Net => "network_namespaces(7)",
            Kind::Mnt => "mount_namespaces(7)",
            Kind::Pid => "pid_namespaces(7)",
            Kind::Time => "time_namespaces(7)",
            Kind::User => "user_namespaces(7)",
            Kind::Uts => "uts_namespaces(7)",
        }
    }

    /// What a namespace of this kind isolates, in the words of `namespaces(7)`.
    pub const fn isolates(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup root directory",
            Kind::Ipc => "System V IPC, POSIX message queues",
            Kind::Net => "network devices, stacks, ports, etc.",
            Kind::Mnt => "mount points",
            Kind::Pid => "process IDs",
            Kind::Time => "boot and monotonic clocks",
            Kind::User => "user and group IDs",
            Kind::Uts => "hostname and NIS domain name",
        }
    }

    /// Whether the kernel has a `/proc/self/ns/<name>` entry for this kind (older kernels
    /// lack `time` and `cgroup`).
    pub fn is_supported(self) -> bool {
        std::path::Path::new("/proc/self/ns").join(self.name()).exists()
    }

    /// A one-kind [`KindSet`].
    pub const fn set(self) -> KindSet {
        KindSet(1 << self as u8)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// Parses the kernel's short name (`mnt`), also accepting `mount`, `network`,
    /// `newns`-style flag names (`CLONE_NEWNET`, `newnet`) in any case.
    fn from_str(s: &str) -> Result<Kind, Error> {
        let lower = s.trim().to_ascii_lowercase();
        let bare = lower
            .strip_prefix("clone_new")
            .or_else(|| lower.strip_prefix("new"))
            .unwrap_or(&lower);
        let kind = match bare {
            "cgroup" => Kind::Cgroup,
            "ipc" => Kind::Ipc,
            "net" | "network" => Kind::Net,
            "mnt" | "mount" | "ns" => Kind::Mnt,
            "pid" => Kind::Pid,
            "time" => Kind::Time,
            "user" => Kind::User,
            "uts" => Kind::Uts,
            _ => {
                return Err(Error::invalid(
                    Op::Parse,
                    format!(
                        "unknown namespace kind {s:?}: expected one of cgroup, ipc, net, mnt, pid, time, user, uts"
                    ),
                ))
            }
        };
        Ok(kind)
    }
}

/// A set of namespace kinds, as in the flags argument of `clone(2)` and `unshare(2)`.
///
/// ```
/// use nscore::{Kind, KindSet};
/// let set: KindSet = "uts,ipc,net".parse().unwrap();
/// assert!(set.contains(Kind::Net));
/// assert_eq!(set.to_string(), "ipc,net,uts");
/// assert_eq!(KindSet::from(Kind::Uts) | Kind::Ipc, "ipc,uts".parse().unwrap());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct KindSet(u8);

impl KindSet {
    /// No kind at all.
    pub const EMPTY: KindSet = KindSet(0);
    /// All eight kinds.
    pub const ALL: KindSet = KindSet(0xff);

    /// This set with `kind` added.
    pub const fn with(self, kind: Kind) -> KindSet {
        KindSet(self.0 | kind.set().0)
    }

    /// This set without `kind`.
    pub const fn without(self, kind: Kind) -> KindSet {
        KindSet(self.0 & !kind.set().0)
    }

    /// Adds `kind`.
    pub fn insert(&mut self, kind: Kind) {
        self.0 |= kind.set().0;
    }

    /// Removes `kind`.
    pub fn remove(&mut self, kind: Kind) {
        self.0 &= !kind.set().0;
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: Kind) -> bool {
        self.0 & kind.set().0 != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many kinds the set holds.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }

    /// The `CLONE_NEW*` flags of the set, OR-ed, as `clone(2)`/`unshare(2)` take them.
    pub fn clone_flags(self) -> libc::c_int {
        self.iter().fold(0, |acc, k| acc | k.clone_flag())
    }

    /// The set of kinds whose flags are present in `flags` (other bits are ignored).
    pub fn from_clone_flags(flags: libc::c_int) -> KindSet {
        Kind::ALL.into_iter().filter(|k| flags & k.clone_flag() != 0).collect()
    }
}

impl From<Kind> for KindSet {
    fn from(kind: Kind) -> KindSet {
        kind.set()
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> KindSet {
        iter.into_iter().fold(KindSet::EMPTY, KindSet::with)
    }
}

impl std::ops::BitOr<Kind> for KindSet {
    type Output = KindSet;
    fn bitor(self, rhs: Kind) -> KindSet {
        self.with(rhs)
    }
}

impl std::ops::BitOr for KindSet {
    type Output = KindSet;
    fn bitor(self, rhs: KindSet) -> KindSet {
        KindSet(self.0 | rhs.0)
    }
}

impl std::ops::BitOr for Kind {
    type Output = KindSet;
    fn bitor(self, rhs: Kind) -> KindSet {
        self.set().with(rhs)
    }
}

impl fmt::Display for KindSet {
    /// The kernel's short names joined by commas (`ipc,net,uts`), or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, k) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(k.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KindSet({self})")
    }
}

impl FromStr for KindSet {
    type Err = Error;

    /// Parses a comma- or `|`-separated list of kinds; `all` and `none` (or the empty string)
    /// are accepted too.
    fn from_str(s: &str) -> Result<KindSet, Error> {
        let s = s.trim();
        match s {
            "" | "none" => return Ok(KindSet::EMPTY),
            "all" => return Ok(KindSet::ALL),
            _ => {}
        }
        s.split([',', '|', '+'])
            .map(str::parse::<Kind>)
            .collect::<Result<KindSet, Error>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_debug_names_the_kinds() {
        let set = Kind::Uts | Kind::Net;
        assert_eq!(format!("{set:?}"), format!("KindSet({set})"));
        assert_eq!(format!("{:?}", KindSet::EMPTY), "KindSet(none)");
    }

    #[test]
    fn names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>().unwrap(), k);
            assert_eq!(k.flag_name().parse::<Kind>().unwrap(), k);
            assert_eq!(Kind::from_clone_flag(k.clone_flag()), Some(k));
            assert!(k.limit_file().ends_with(&format!("max_{}_namespaces", k.name())));
        }
        assert!("bogus".parse::<Kind>().is_err());
        assert!("uts,bogus".parse::<KindSet>().is_err());
    }

    #[test]
    fn set_operations() {
        let s: KindSet = "net,uts,mount".parse().unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_string(), "net,mnt,uts");
        assert_eq!(KindSet::from_clone_flags(s.clone_flags()), s);
        assert_eq!(s.without(Kind::Net).to_string(), "mnt,uts");
        assert_eq!(KindSet::ALL.len(), 8);
        assert_eq!("all".parse::<KindSet>().unwrap(), KindSet::ALL);
        assert_eq!(KindSet::EMPTY.to_string(), "none");
    }
}
