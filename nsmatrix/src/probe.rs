//! Which namespace APIs the running kernel has: each feature is tried once, for real, and
//! reported with the errno that says it is missing. Run in every guest of the matrix
//! (`nsmatrix-probe`), and on the host for the `host` column.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nscore::{Kind, KindSet, NsHandle};

/// One probed feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// Short name, as in the matrix (`clone3`, `NS_GET_ID`, `kind:time`, ...).
    pub name: String,
    /// The mainline release that brought it, for the reader.
    pub since: String,
    /// Whether the running kernel has it.
    pub present: bool,
    /// What the probe saw (the errno when absent).
    pub detail: String,
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn feature(name: &str, since: &str, r: Result<String, String>) -> Feature {
    let (present, detail) = match r {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Feature {
        name: name.to_owned(),
        since: since.to_owned(),
        present,
        detail,
    }
}

/// Absent when the call failed with one of the errnos that mean "the kernel lacks this".
fn judge(rc: i64, missing: &[i32]) -> Result<String, String> {
    if rc >= 0 {
        return Ok("ok".into());
    }
    let e = errno();
    if missing.contains(&e.raw_os_error().unwrap_or(0)) {
        Err(e.to_string())
    } else {
        Ok(format!("present ({e})"))
    }
}

fn pidfd_self() -> Result<OwnedFd, String> {
    // SAFETY: pidfd_open(2) with the caller's own pid; no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(format!("pidfd_open: {}", errno()));
    }
    // SAFETY: a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `_IO(type, nr)`.
const fn io(ty: u32, nr: u32) -> libc::c_ulong {
    ((ty << 8) | nr) as libc::c_ulong
}
const NSIO: u32 = 0xb7;
const PIDFD_GET_UTS_NAMESPACE: libc::c_ulong = io(0xff, 10);

fn ns_ioctl(path: &str, cmd: libc::c_ulong) -> Result<String, String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let mut uid: libc::uid_t = 0;
    // SAFETY: an nsfs ioctl on our descriptor; NS_GET_OWNER_UID writes one uid_t to `uid`,
    // NS_GET_USERNS returns a new descriptor, NS_GET_NSTYPE a CLONE_NEW* flag;
    // the others ignore the argument.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd, &mut uid as *mut libc::uid_t) };
    if rc > 0 && cmd == io(NSIO, 1) {
        // SAFETY: the ioctl returned a new descriptor.
        drop(unsafe { OwnedFd::from_raw_fd(rc) });
    }
    // EPERM: the owner of the initial namespace is out of reach, which only a kernel that has
    // the ioctl says
    judge(rc as i64, &[libc::ENOTTY, libc::EINVAL])
}

fn nsfs_handle() -> Result<String, String> {
    let f = File::open("/proc/self/ns/uts").map_err(|e| e.to_string())?;
    #[repr(C)]
    struct Handle {
        bytes: u32,
        ty: i32,
        data: [u8; 128],
    }
    let mut h = Handle {
        bytes: 128,
        ty: 0,
        data: [0; 128],
    };
    let mut mnt: libc::c_int = 0;
    // SAFETY: name_to_handle_at(2) with an empty path on our descriptor (AT_EMPTY_PATH), a
    // handle buffer of the size it says and an int for the mount id.
    let rc = unsafe {
        libc::name_to_handle_at(
            f.as_raw_fd(),
            c"".as_ptr(),
            &mut h as *mut Handle as *mut libc::file_handle,
            &mut mnt,
            libc::AT_EMPTY_PATH,
        )
    };
    judge(rc as i64, &[libc::EOPNOTSUPP, libc::EINVAL, libc::ENOSYS])
}

/// Probes every feature the matrix shows, in a fixed order.
pub fn probe() -> Vec<Feature> {
    let mut out = Vec::new();
    for k in Kind::ALL {
        let r = if k.is_supported() {
            Ok(format!("/proc/self/ns/{}", k.name()))
        } else {
            Err(format!("no /proc/self/ns/{}", k.name()))
        };
        let since = match k {
            Kind::Cgroup => "4.6",
            Kind::Time => "5.6",
            Kind::User => "3.8",
            Kind::Pid => "3.8",
            _ => "3.0",
        };
        out.push(feature(&format!("kind:{}", k.name()), since, r));
    }
    // SAFETY: clone3(2) with a null argument and size 0 fails at once (EINVAL or EFAULT) on
    // a kernel that has it; no process is made.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    out.push(feature("clone3", "5.3", judge(rc, &[libc::ENOSYS])));
    let pidfd = pidfd_self();
    out.push(feature(
        "pidfd_open",
        "5.3",
        pidfd.as_ref().map(|_| "ok".to_owned()).map_err(|e| e.clone()),
    ));
    let setns = pidfd.as_ref().map_err(|e| e.clone()).and_then(|p| {
        // SAFETY: setns(2) into our own UTS namespace through our own pidfd: no change.
        let rc = unsafe { libc::setns(p.as_raw_fd(), libc::CLONE_NEWUTS) };
        judge(rc as i64, &[libc::EINVAL, libc::EBADF])
    });
    out.push(feature("pidfd setns", "5.8", setns));
    let ioctls = pidfd.as_ref().map_err(|e| e.clone()).and_then(|p| {
        // SAFETY: PIDFD_GET_UTS_NAMESPACE on our pidfd returns a new nsfs descriptor or fails.
        let rc = unsafe { libc::ioctl(p.as_raw_fd(), PIDFD_GET_UTS_NAMESPACE, 0) };
        if rc > 0 {
            // SAFETY: the ioctl returned a new descriptor.
            drop(unsafe { OwnedFd::from_raw_fd(rc) });
        }
        judge(rc as i64, &[libc::ENOTTY, libc::EINVAL])
    });
    out.push(feature("pidfd ns ioctls", "6.11", ioctls));
    out.push(feature(
        "NS_GET_USERNS",
        "4.9",
        ns_ioctl("/proc/self/ns/uts", io(NSIO, 1)),
    ));
    out.push(feature(
        "NS_GET_NSTYPE",
        "4.11",
        ns_ioctl("/proc/self/ns/uts", io(NSIO, 3)),
    ));
    out.push(feature(
        "NS_GET_OWNER_UID",
        "4.11",
        ns_ioctl("/proc/self/ns/user", io(NSIO, 4)),
    ));
    let mntns = NsHandle::current(Kind::Mnt).and_then(|h| h.mnt_ns_id());
    out.push(feature(
        "NS_GET_MNTNS_ID",
        "6.8",
        mntns.map(|i| format!("mnt id {i}")).map_err(|e| e.to_string()),
    ));
    let id = NsHandle::current(Kind::Uts).and_then(|h| h.ns_id());
    out.push(feature(
        "NS_GET_ID",
        "6.18",
        id.map(|i| format!("uts id {i}")).map_err(|e| e.to_string()),
    ));
    let info = NsHandle::current(Kind::Mnt).and_then(|h| h.mnt_info());
    out.push(feature(
        "NS_MNT_GET_INFO",
        "6.12",
        info.map(|i| format!("{i:?}")).map_err(|e| e.to_string()),
    ));
    out.push(feature("nsfs file handles", "6.18", nsfs_handle()));
    // SAFETY: listmount(2) with a null request fails at once (EFAULT, EINVAL) when present.
    let rc = unsafe { libc::syscall(458, std::ptr::null::<u8>(), std::ptr::null::<u64>(), 0usize, 0u32) };
    out.push(feature("listmount", "6.8", judge(rc, &[libc::ENOSYS])));
    out.push(feature(
        "CLONE_EMPTY_MNTNS",
        "7.1",
        nscore::create::probe_empty_mntns()
            .map(|()| "ok".to_owned())
            .map_err(|e| e.to_string()),
    ));
    let ids = nscore::inspect::list::listns(KindSet::default());
    out.push(feature(
        "listns",
        "6.19",
        ids.map(|v| format!("{} namespaces", v.len()))
            .map_err(|e| e.to_string()),
    ));
    out
}

/// The probe's output: `feature<TAB>name<TAB>yes|no<TAB>since<TAB>detail` lines, after a
/// `release<TAB>...` line.
pub fn render(features: &[Feature]) -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut s = format!("release\t{}\n", release.trim());
    for f in features {
        s.push_str(&format!(
            "feature\t{}\t{}\t{}\t{}\n",
            f.name,
            if f.present { "yes" } else { "no" },
            f.since,
            f.detail.replace(['\t', '\n'], " ")
        ));
    }
    s
}

/// Reads [`render`]'s output back: (release, features).
pub fn parse(text: &str) -> (String, Vec<Feature>) {
    let mut release = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["release", r] => release = (*r).to_owned(),
            ["feature", name, yes, since, detail] => out.push(Feature {
                name: (*name).to_owned(),
                since: (*since).to_owned(),
                present: *yes == "yes",
                detail: (*detail).to_owned(),
            }),
            _ => {}
        }
    }
    (release, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_parse_round_trip() {
        let f = vec![Feature {
            name: "clone3".into(),
            since: "5.3".into(),
            present: true,
            detail: "ok".into(),
        }];
        let (_, back) = parse(&render(&f));
        assert_eq!(back, f);
    }
}
