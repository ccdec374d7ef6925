//! How a command is cloned: vfork-like where the parent need not act between clone and exec.

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use nscore::{Kind, Spawn};

/// `map_root` maps are written by the child itself, so a command can be spawned vfork-like;
/// the child is uid 0 inside, with setgroups denied.
#[test]
fn map_root_spawn_is_vfork_like_and_maps_root() {
    let out = Spawn::new(Kind::User)
        .map_root()
        .clone_mode(nscore::CloneMode::Vfork)
        .output(
            "/bin/sh",
            ["-c", "id -u; id -g; cat /proc/self/setgroups; cat /proc/self/uid_map"],
        )
        .expect("vfork-like spawn with map_root");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "{text}");
    assert_eq!(lines[1], "0", "{text}");
    assert_eq!(lines[2], "deny", "{text}");
    let uid = nix::unistd::geteuid().as_raw().to_string();
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["0", uid.as_str(), "1"],
        "{text}"
    );
}

/// A map of someone else's id still needs the parent, so `CloneMode::Vfork` is refused with
/// a clear error instead of a hang.
#[test]
fn vfork_with_a_map_the_parent_must_write_is_refused() {
    let other = nix::unistd::geteuid().as_raw() + 1;
    let err = Spawn::new(Kind::User)
        .uid_map(&[nscore::IdMap::single(0, other)])
        .clone_mode(nscore::CloneMode::Vfork)
        .spawn("/bin/true", std::iter::empty::<&str>())
        .expect_err("must be refused");
    assert_eq!(err.op(), nscore::Op::Validate, "{err}");
}
