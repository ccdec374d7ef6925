//! A probe for nswall's own tests: it enters the wall like every test binary, then does one
//! thing that the tests name and reports what it saw on stdout as `key=value` lines.
//!
//! - `report`: the process's view from inside (pid, namespaces, `/proc`, `/tmp`, cgroup bound,
//!   capabilities, `lo`).
//! - `forkbomb`: forks children that sleep until `fork` fails (capped at 100,000), and reports
//!   how many it made and the errno.
//! - `harm`: changes what it can (hostname, a tmpfs over `/tmp` and `/mnt`, a SysV shared
//!   memory segment, a dummy sysctl of its network namespace), then reports `done=1`.
//! - `hang`: starts a chain of processes that ignore `SIGTERM` and a double-forked orphan,
//!   prints `ready=1` and sleeps until killed.

nswall::enter!();

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let out = &mut std::io::stdout();
    match what.as_str() {
        "report" => report(out),
        "forkbomb" => forkbomb(out),
        "harm" => harm(out),
        "hang" => hang(out),
        _ => {
            eprintln!("usage: nswall-probe report|forkbomb|harm|hang");
            std::process::exit(2);
        }
    }
}

fn line(out: &mut impl std::io::Write, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key}={value}");
    let _ = out.flush();
}

fn report(out: &mut impl std::io::Write) {
    line(out, "pid", std::process::id());
    for k in nswall::WALLED.iter().chain(&["user"]) {
        let link = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
        line(out, &format!("ns_{k}"), link.display());
    }
    line(out, "outer", std::env::var(nswall::OUTER_VAR).unwrap_or_default());
    let procs = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    line(out, "proc_pids", procs);
    let tmp = nix::sys::statfs::statfs("/tmp").unwrap();
    line(
        out,
        "tmp_is_tmpfs",
        (tmp.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC) as u8,
    );
    let mut names: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    line(out, "tmp_entries", names.join(","));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let capeff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or("?")
        .trim();
    line(out, "cap_eff", capeff);
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    line(out, "in_wall_cgroup", cgroup.contains("/nswall-") as u8);
    let flags = std::fs::read_to_string("/sys/class/net/lo/flags").unwrap_or_default();
    line(out, "lo_flags", flags.trim());
}

fn forkbomb(out: &mut impl std::io::Write) {
    let mut made = 0u32;
    let errno = loop {
        if made >= 100_000 {
            break 0;
        }
        // SAFETY: single-threaded program; the child only calls async-signal-safe pause/_exit.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: pause(2) has no arguments.
                unsafe { libc::pause() };
            },
            -1 => break std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            _ => made += 1,
        }
    };
    line(out, "forked", made);
    line(out, "errno", errno);
}

fn harm(out: &mut impl std::io::Write) {
    use nix::mount::{mount, MsFlags};
    let r = nix::unistd::sethostname("nswall-harm");
    line(out, "sethostname", r.is_ok() as u8);
    for dir in ["/tmp", "/mnt"] {
        let r = mount(Some("tmpfs"), dir, Some("tmpfs"), MsFlags::empty(), None::<&str>);
        line(out, &format!("mount{}", dir.replace('/', "_")), r.is_ok() as u8);
    }
    // SAFETY: shmget with IPC_PRIVATE makes a new segment; no memory is passed.
    let id = unsafe { libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600) };
    line(out, "shmget", (id >= 0) as u8);
    let r = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1");
    line(out, "ip_forward", r.is_ok() as u8);
    line(out, "done", 1);
}

fn hang(out: &mut impl std::io::Write) {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: ignoring a signal installs no handler.
    unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }.unwrap();
    for _ in 0..4 {
        // SAFETY: single-threaded program.
        match unsafe { libc::fork() } {
            0 => continue, // the child goes on making the chain
            -1 => break,
            _ => loop {
                // SAFETY: pause(2) has no arguments.
                unsafe { libc::pause() };
            },
        }
    }
    // the last of the chain: a double-forked orphan, in its own session
    // SAFETY: single-threaded program.
    if unsafe { libc::fork() } == 0 {
        // SAFETY: setsid and fork have no memory arguments.
        unsafe { libc::setsid() };
        // SAFETY: as above.
        if unsafe { libc::fork() } != 0 {
            // SAFETY: _exit ends the middle process at once.
            unsafe { libc::_exit(0) };
        }
        loop {
            // SAFETY: pause(2) has no arguments.
            unsafe { libc::pause() };
        }
    }
    line(out, "ready", 1);
    loop {
        // SAFETY: pause(2) has no arguments.
        unsafe { libc::pause() };
    }
}
