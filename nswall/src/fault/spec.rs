//! The grammar of `NSWALL_FAULT` (see the module docs of [`super`]): kinds, calls, actions,
//! and the parser that turns a spec into [`Fault`]s and back.

use std::fmt;

/// A namespace kind, by its `/proc/self/ns` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `CLONE_NEWCGROUP`.
    Cgroup,
    /// `CLONE_NEWIPC`.
    Ipc,
    /// `CLONE_NEWNS`.
    Mnt,
    /// `CLONE_NEWNET`.
    Net,
    /// `CLONE_NEWPID`.
    Pid,
    /// `CLONE_NEWTIME`.
    Time,
    /// `CLONE_NEWUSER`.
    User,
    /// `CLONE_NEWUTS`.
    Uts,
}

/// `CLONE_NEWTIME` (Linux 5.6); not in every libc crate version.
const CLONE_NEWTIME: u64 = 0x80;

impl Kind {
    /// Every kind, in the order of their names.
    pub const ALL: [Kind; 8] = [
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Net,
        Kind::Pid,
        Kind::Time,
        Kind::User,
        Kind::Uts,
    ];

    /// The `/proc/self/ns` name: `cgroup`, `ipc`, `mnt`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup",
            Kind::Ipc => "ipc",
            Kind::Mnt => "mnt",
            Kind::Net => "net",
            Kind::Pid => "pid",
            Kind::Time => "time",
            Kind::User => "user",
            Kind::Uts => "uts",
        }
    }

    /// The kind's `CLONE_NEW*` bit, as `unshare(2)`, `setns(2)` and `clone(2)` take it.
    pub fn flag(self) -> u64 {
        match self {
            Kind::Cgroup => libc::CLONE_NEWCGROUP as u64,
            Kind::Ipc => libc::CLONE_NEWIPC as u64,
            Kind::Mnt => libc::CLONE_NEWNS as u64,
            Kind::Net => libc::CLONE_NEWNET as u64,
            Kind::Pid => libc::CLONE_NEWPID as u64,
            Kind::Time => CLONE_NEWTIME,
            Kind::User => libc::CLONE_NEWUSER as u64,
            Kind::Uts => libc::CLONE_NEWUTS as u64,
        }
    }

    /// The kind's flag name: `CLONE_NEWPID`, ...
    pub fn flag_name(self) -> &'static str {
        match self {
            Kind::Cgroup => "CLONE_NEWCGROUP",
            Kind::Ipc => "CLONE_NEWIPC",
            Kind::Mnt => "CLONE_NEWNS",
            Kind::Net => "CLONE_NEWNET",
            Kind::Pid => "CLONE_NEWPID",
            Kind::Time => "CLONE_NEWTIME",
            Kind::User => "CLONE_NEWUSER",
            Kind::Uts => "CLONE_NEWUTS",
        }
    }

    /// The kind named `name`, if any.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A system call a fault can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    /// `unshare(flags)`: matched on `flags`.
    Unshare,
    /// `setns(fd, nstype)`: matched on `nstype`.
    Setns,
    /// The legacy `clone(flags, ...)`: matched on `flags`.
    Clone,
    /// `clone3(args, size)`: its flags are in memory, so every call is matched.
    Clone3,
}

impl Call {
    /// The system call's name.
    pub fn name(self) -> &'static str {
        match self {
            Call::Unshare => "unshare",
            Call::Setns => "setns",
            Call::Clone => "clone",
            Call::Clone3 => "clone3",
        }
    }

    pub(super) fn nr(self) -> i64 {
        match self {
            Call::Unshare => libc::SYS_unshare,
            Call::Setns => libc::SYS_setns,
            Call::Clone => libc::SYS_clone,
            Call::Clone3 => libc::SYS_clone3,
        }
    }

    /// The argument that holds the `CLONE_NEW*` bits.
    pub(super) fn flags_arg(self) -> u8 {
        match self {
            Call::Setns => 1,
            Call::Unshare | Call::Clone | Call::Clone3 => 0,
        }
    }

    fn from_name(name: &str) -> Option<Call> {
        [Call::Unshare, Call::Setns, Call::Clone, Call::Clone3]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// What a matched call does instead of its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Returns 0 without doing anything: the caller believes it got the namespace.
    Lie,
    /// Fails with this errno.
    Errno(i32),
}

/// One fault: which calls, for which kind, do what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The kind whose `CLONE_NEW*` bit is matched; `None` for `clone3` (every call).
    pub kind: Option<Kind>,
    /// The calls matched (at least one).
    pub calls: Vec<Call>,
    /// What they do.
    pub action: Action,
}

impl fmt::Display for Fault {
    /// `unshare(2), setns(2) with CLONE_NEWPID return 0 and do nothing (pid:lie)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls: Vec<String> = self.calls.iter().map(|c| format!("{}(2)", c.name())).collect();
        let calls = calls.join(", ");
        match self.kind {
            Some(k) => write!(f, "{calls} with {}", k.flag_name())?,
            None => write!(f, "every {calls}")?,
        }
        let one = self.calls.len() == 1;
        match self.action {
            Action::Lie if one => f.write_str(" returns 0 and does nothing")?,
            Action::Lie => f.write_str(" return 0 and do nothing")?,
            Action::Errno(e) if one => write!(f, " fails with {}", errno_name(e))?,
            Action::Errno(e) => write!(f, " fail with {}", errno_name(e))?,
        }
        write!(f, " ({})", self.spec())
    }
}

impl Fault {
    /// The fault in the grammar's words (parsing it gives the fault back).
    pub fn spec(&self) -> String {
        let action = match self.action {
            Action::Lie => "lie".to_owned(),
            Action::Errno(e) => errno_name(e),
        };
        match self.kind {
            None => format!("clone3:{action}"),
            Some(k) => {
                let calls: Vec<&str> = self.calls.iter().map(|c| c.name()).collect();
                format!("{}:{}:{action}", k.name(), calls.join("+"))
            }
        }
    }
}

/// The kinds, as the grammar lists them.
fn kind_names() -> String {
    Kind::ALL.map(Kind::name).join(", ")
}

/// Parses a whole `NSWALL_FAULT` value (see the module docs). Empty: no fault.
pub fn parse(spec: &str) -> Result<Vec<Fault>, String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',').map(|f| parse_one(f.trim())).collect()
}

fn parse_one(fault: &str) -> Result<Fault, String> {
    let parts: Vec<&str> = fault.split(':').collect();
    let bad = |why: String| format!("fault `{fault}`: {why}");
    let (head, calls, action) = match parts.as_slice() {
        [head, action] => (*head, None, *action),
        [head, calls, action] => (*head, Some(*calls), *action),
        _ => return Err(bad("expected <kind>:[<calls>:]<lie|errno> or clone3:<errno>".to_owned())),
    };
    let action = parse_action(action).map_err(bad)?;
    if head == "clone3" {
        if calls.is_some() {
            return Err(bad("clone3 takes no calls: it is the call (clone3:<errno>)".to_owned()));
        }
        if action == Action::Lie {
            return Err(bad(
                "clone3 cannot lie: its 0 return means \"you are the child\"; give an errno \
                 (ENOSYS is what a kernel without clone3 answers)"
                    .to_owned(),
            ));
        }
        return Ok(Fault {
            kind: None,
            calls: vec![Call::Clone3],
            action,
        });
    }
    let kind = Kind::from_name(head).ok_or_else(|| {
        bad(format!(
            "unknown kind `{head}`: expected one of {}, or clone3",
            kind_names()
        ))
    })?;
    let calls = match calls {
        None => vec![Call::Unshare, Call::Setns],
        Some(list) => {
            let mut calls = Vec::new();
            for name in list.split('+') {
                let call = Call::from_name(name).filter(|c| *c != Call::Clone3).ok_or_else(|| {
                    bad(format!(
                        "unknown call `{name}`: expected unshare, setns or clone (for \
                             clone3, whose flags a filter cannot see, write clone3:<errno>)"
                    ))
                })?;
                if calls.contains(&call) {
                    return Err(bad(format!("`{name}` is named twice")));
                }
                calls.push(call);
            }
            calls
        }
    };
    if calls.contains(&Call::Clone) {
        if action == Action::Lie {
            return Err(bad(
                "clone cannot lie: its 0 return means \"you are the child\"; give an errno".to_owned(),
            ));
        }
        if kind == Kind::Time {
            return Err(bad(
                "the legacy clone(2) cannot make a time namespace (CLONE_NEWTIME is in its \
                 exit-signal byte); fault clone3 instead (clone3:<errno>)"
                    .to_owned(),
            ));
        }
    }
    Ok(Fault {
        kind: Some(kind),
        calls,
        action,
    })
}

fn parse_action(word: &str) -> Result<Action, String> {
    if word == "lie" {
        return Ok(Action::Lie);
    }
    let errno = if let Ok(n) = word.parse::<i32>() {
        n
    } else {
        errno_from_name(word).ok_or_else(|| {
            format!("unknown action `{word}`: expected lie, an errno name (EPERM, ENOSYS, ...) or a number")
        })?
    };
    if !(1..=4095).contains(&errno) {
        return Err(format!(
            "errno {errno} is out of range (1 to 4095; for a 0 return write lie)"
        ));
    }
    Ok(Action::Errno(errno))
}

/// The errno numbers that have a name in this libc, with their names.
fn errno_names() -> impl Iterator<Item = (i32, String)> {
    (1..512).filter_map(|n| {
        let e = nix::errno::Errno::from_raw(n);
        (e != nix::errno::Errno::UnknownErrno).then(|| (n, format!("{e:?}")))
    })
}

fn errno_from_name(name: &str) -> Option<i32> {
    errno_names().find(|(_, n)| n == name).map(|(e, _)| e)
}

/// `EPERM` for 1; the number itself when it has no name.
fn errno_name(errno: i32) -> String {
    errno_names()
        .find(|(e, _)| *e == errno)
        .map(|(_, n)| n)
        .unwrap_or_else(|| errno.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_lie_covers_unshare_and_setns() {
        let f = parse("pid:lie").unwrap();
        assert_eq!(
            f,
            vec![Fault {
                kind: Some(Kind::Pid),
                calls: vec![Call::Unshare, Call::Setns],
                action: Action::Lie,
            }]
        );
        assert_eq!(f[0].spec(), "pid:unshare+setns:lie");
        assert_eq!(
            f[0].to_string(),
            "unshare(2), setns(2) with CLONE_NEWPID return 0 and do nothing (pid:unshare+setns:lie)"
        );
    }

    #[test]
    fn errno_by_name_or_number() {
        assert_eq!(parse("net:EPERM").unwrap()[0].action, Action::Errno(libc::EPERM));
        assert_eq!(parse("net:28").unwrap()[0].action, Action::Errno(libc::ENOSPC));
        assert_eq!(parse("net:4095").unwrap()[0].action, Action::Errno(4095));
        assert_eq!(errno_name(4095), "4095");
        assert_eq!(errno_name(libc::ENOSYS), "ENOSYS");
    }

    #[test]
    fn calls_and_several_faults() {
        let f = parse(" uts:setns:EINVAL , mnt:unshare+clone:ENOMEM,clone3:ENOSYS ").unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].calls, vec![Call::Setns]);
        assert_eq!(f[0].action, Action::Errno(libc::EINVAL));
        assert_eq!(f[1].kind, Some(Kind::Mnt));
        assert_eq!(f[1].calls, vec![Call::Unshare, Call::Clone]);
        assert_eq!(
            f[2],
            Fault {
                kind: None,
                calls: vec![Call::Clone3],
                action: Action::Errno(libc::ENOSYS)
            }
        );
        assert_eq!(f[2].spec(), "clone3:ENOSYS");
        assert_eq!(f[2].to_string(), "every clone3(2) fails with ENOSYS (clone3:ENOSYS)");
        assert_eq!(
            f[0].to_string(),
            "setns(2) with CLONE_NEWUTS fails with EINVAL (uts:setns:EINVAL)"
        );
    }

    #[test]
    fn spec_round_trips_for_every_kind() {
        for k in Kind::ALL {
            for text in [format!("{}:lie", k.name()), format!("{}:setns:EBUSY", k.name())] {
                let f = parse(&text).unwrap();
                assert_eq!(parse(&f[0].spec()).unwrap(), f, "{text}");
                assert_eq!(f[0].kind.unwrap().flag().count_ones(), 1);
            }
        }
    }

    #[test]
    fn empty_is_no_fault() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("  ").unwrap(), vec![]);
    }

    #[test]
    fn malformed_specs_say_why() {
        let cases = [
            ("nope:lie", "unknown kind `nope`"),
            ("pid", "expected <kind>"),
            ("pid:a:b:c", "expected <kind>"),
            ("pid:maybe", "unknown action `maybe`"),
            ("pid:0", "out of range"),
            ("pid:-1", "out of range"),
            ("pid:4096", "out of range"),
            ("pid:fork:lie", "unknown call `fork`"),
            ("pid:clone3:ENOSYS", "unknown call `clone3`"),
            ("pid:unshare+unshare:lie", "named twice"),
            ("pid:clone:lie", "clone cannot lie"),
            ("time:clone:EPERM", "cannot make a time namespace"),
            ("clone3:lie", "clone3 cannot lie"),
            ("clone3:unshare:ENOSYS", "clone3 takes no calls"),
            ("pid:lie,", "expected <kind>"),
            ("PID:lie", "unknown kind `PID`"),
        ];
        for (spec, want) in cases {
            let err = parse(spec).expect_err(spec);
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.starts_with("fault `"), "{spec}: {err}");
        }
    }
}
