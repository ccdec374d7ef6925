//! Identity of namespaces across kinds (checklist depth items D1, D3): the 64-bit id
//! (`NS_GET_ID`) of every kind, and the kind that `NS_GET_NSTYPE` gives every
//! `/proc/<pid>/ns` entry. (D2, ownership queries through nscore, is in `nscore/tests/contract.rs`.)
//! Peers: the kernel's `selftests/nsfs/{owner,pidns}.c` and `selftests/namespaces/nsid_test.c`,
//! LTP `ioctl_ns0{1..7}`.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::AsRawFd;

use nscore::{Kind, KindSet, NsHandle, Spawn};
use nstests::child::ns_get_nstype;
use nstests::live::{Gate, Live};
use nstests::{ns_id_or_skip, Mode, Probe};
use rstest::rstest;

/// `SO_NETNS_COOKIE` (Linux 5.14): the id of the network namespace a socket was made in.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The `SO_NETNS_COOKIE` of a new UDP socket in the caller's network namespace, or -errno.
fn netns_cookie() -> i64 {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let fd = match rustix::net::socket_with(AddressFamily::INET, SocketType::DGRAM, SocketFlags::CLOEXEC, None) {
        Ok(fd) => fd,
        Err(e) => return -(e.raw_os_error() as i64),
    };
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt(2) of SO_NETNS_COOKIE (hand-written: neither rustix 1 nor nix 0.30 has
    // it) into a valid out-buffer of its size; `fd` is the socket just made.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if r != 0 {
        -nstests::child::errno()
    } else {
        cookie as i64
    }
}

/// A child in new namespaces of every kind (user mapped to root; `None`: no new namespace)
/// that reports the `SO_NETNS_COOKIE` of a socket it made, then waits at the gate.
fn start(mode: Mode) -> Live {
    let spawn = match mode {
        Mode::None => Spawn::new(KindSet::EMPTY),
        _ => Spawn::new(KindSet::ALL).map_root(),
    };
    let child_body = |p: &Probe, gate: Gate| {
        p.line_num(b"cookie", netns_cookie());
        p.put(b"ready\n");
        gate.wait();
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    unsafe { Live::start(spawn, child_body) }.unwrap()
}

/// D1: `NS_GET_ID` of every kind is nonzero, the same through two handles, differs from the
/// parent's exactly when the namespace is new, equals the `SO_NETNS_COOKIE` of a socket made
/// inside for net, and the mount-namespace id (`NS_GET_MNTNS_ID`) for mnt. Control: a child
/// without new namespaces has the parent's ids. Skips with the reason before Linux 6.18.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
fn d1_ns_get_id_for_every_kind(#[case] mode: Mode) {
    let test = "d1_ns_get_id_for_every_kind";
    if ns_id_or_skip(test, &NsHandle::current(Kind::Net).unwrap()).is_none() {
        return;
    }
    let mut live = start(mode);
    let text = live.until("ready");
    let cookie: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cookie="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no cookie: {text}"));
    for k in Kind::ALL {
        let (first, second) = (live.child.ns(k).unwrap(), live.child.ns(k).unwrap());
        let id = first.ns_id().unwrap();
        let host = NsHandle::current(k).unwrap().ns_id().unwrap();
        assert_ne!(id, 0, "{k}");
        assert_eq!(second.ns_id().unwrap(), id, "{k}: stable across handles");
        assert_eq!(
            id != host,
            mode.isolates(),
            "mode {mode}: {k}: {id} vs the parent's {host}"
        );
        match k {
            Kind::Net => assert_eq!(cookie, id as i64, "net: SO_NETNS_COOKIE inside: {text}"),
            Kind::Mnt => assert_eq!(first.mnt_ns_id().unwrap(), id, "mnt: NS_GET_MNTNS_ID"),
            _ => {}
        }
    }
    // the parent's own socket carries the parent's id
    assert_eq!(
        netns_cookie(),
        NsHandle::current(Kind::Net).unwrap().ns_id().unwrap() as i64
    );
    live.finish().assert_ok();
}

/// The kind a `/proc/<pid>/ns` entry name stands for.
fn kind_of_entry(name: &str) -> Kind {
    let base = name.strip_suffix("_for_children").unwrap_or(name);
    base.parse().unwrap_or_else(|e| panic!("entry {name}: {e}"))
}

/// D3: `NS_GET_NSTYPE` of every `/proc/<pid>/ns` entry, `pid_for_children` and
/// `time_for_children` included, is the `CLONE_NEW*` flag of the kind the entry is named for,
/// raw and through nscore's `NsHandle::kind`; for the test process and for a child in new
/// namespaces of every kind. Control: a file that is not a namespace gives ENOTTY.
#[test]
fn d3_ns_get_nstype_of_every_entry_matches() {
    let mut live = start(Mode::Clone);
    live.until("ready");
    for pid in [std::process::id() as i32, live.child.pid().as_raw()] {
        let mut seen = Vec::new();
        for ent in std::fs::read_dir(format!("/proc/{pid}/ns")).unwrap() {
            let ent = ent.unwrap();
            let name = ent.file_name().to_string_lossy().into_owned();
            let want = kind_of_entry(&name);
            let h = NsHandle::open(ent.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(h.kind(), want, "/proc/{pid}/ns/{name} through nscore");
            let flag = ns_get_nstype(&h);
            assert_eq!(flag, Ok(want.clone_flag()), "/proc/{pid}/ns/{name}: raw NS_GET_NSTYPE");
            seen.push(name);
        }
        for name in ["pid_for_children", "time_for_children"] {
            assert!(seen.iter().any(|s| s == name), "{name} listed: {seen:?}");
        }
        assert!(seen.len() >= 10, "all eight kinds and the two _for_children: {seen:?}");
    }
    live.finish().assert_ok();
    let f = std::fs::File::open("/proc/self/stat").unwrap();
    assert_eq!(ns_get_nstype(&f), Err(nscore::Errno::ENOTTY), "control");
}
