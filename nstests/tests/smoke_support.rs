//! The support layer itself: a probe round-trips, modes make or do not make namespaces.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{Kind, NsHandle};
use nstests::{run_in, Mode};
use rstest::rstest;

#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn support_modes_make_a_uts_namespace_or_not(#[case] mode: Mode) {
    let parent = NsHandle::current(Kind::Uts).unwrap().id().unwrap();
    let path = nstests::cstr("/proc/self/ns/uts");
    let out = run_in(mode, Kind::Uts.into(), |p| {
        let mut st: libc::stat = unsafe_stat();
        // SAFETY: `path` is a valid NUL-terminated string and `st` a valid out-buffer.
        if unsafe { libc::stat(path.as_ptr(), &mut st) } != 0 {
            p.errno(b"stat_errno");
            return 1;
        }
        p.kv(b"ino", st.st_ino as i64);
        0
    })
    .unwrap();
    out.assert_ok();
    assert_eq!(
        out.num("ino") as u64 != parent.ino,
        mode.isolates(),
        "mode {mode}: {}",
        out.text()
    );
}

fn unsafe_stat() -> libc::stat {
    // SAFETY: `libc::stat` is plain data; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}
