//! Network namespaces in depth (checklist N1–N7).
//!
//! Nothing is ever added to the host's network namespace: links, addresses and traffic live in
//! namespaces made for the test. Tests that need a "parent" side run it in a scratch child in
//! a new network namespace (plus a mapped user namespace when not root); veth pairs are made
//! there and one end is moved into another namespace the test made (`IFLA_NET_NS_FD`). When
//! the scratch child ends (pass, fail, or killed after the timeout), its namespaces and every
//! link in them go with it. rtnetlink messages are built by hand in stack buffers, so that the
//! child bodies stay async-signal-safe (no allocation).

// Every test of this binary runs inside the wall (nswall): private mount, IPC, UTS, network
// and PID namespaces and a cgroup bound, so that a failure cannot reach the host.
nswall::enter!();

use std::os::fd::OwnedFd;

use nscore::{raw, Kind, KindSet};
use nstests::child::*;
use nstests::live::{Gate, Live};
use nstests::{cstr, effective_kinds, nl, run_spawn, so, spawn_for, Mode, Probe};
use rstest::rstest;
use rustix::net::{RecvFlags, SendFlags, SocketType};

/// N1: a new network namespace has exactly one interface, `lo`, DOWN, with no addresses and
/// no routes; none of its parent's interfaces are visible: not by an rtnetlink dump, not in
/// `/sys/class/net` of a sysfs mounted inside (in a new mount namespace, on a temporary
/// directory), not by an index scan (`SIOCGIFNAME`, what `if_nameindex` walks). The parent is
/// a scratch network namespace of the test's own (never the host's, which may hold only `lo`
/// in a container or in the wall) with a veth pair, one end up with addresses, so that it has
/// links, addresses and routes beyond `lo`; the `none` control, a child in that namespace,
/// sees them all.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n1_new_netns_has_only_lo_down_no_addresses_no_routes(#[case] mode: Mode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = nstests::cpath(dir.path());
    let sysfs = cstr("sysfs");
    let child_body = |p: &Probe| {
        // the parent's network: lo, a veth pair, addresses (and so routes) on one end
        p.line_num(b"add_veth", nl::add_veth(b"n1a", b"n1b", -1));
        p.line_num(b"config", nl::configure(b"n1a", IP_A, IP6_A));
        p.line_num(b"parent_links", nl::report_links(p, b"parent_link"));
        let child_body = || {
            if !enter(mode, Kind::Net.into(), p) {
                return 90;
            }
            p.line_num(b"links", nl::report_links(p, b"link"));
            p.line_num(b"lo_flags", so::ifflags(b"lo"));
            p.line_num(b"addrs", nl::count(nl::RTM_GETADDR, nl::RTM_NEWADDR));
            p.line_num(b"routes", nl::count(nl::RTM_GETROUTE, nl::RTM_NEWROUTE));
            let mut name = [0u8; 16];
            for index in 1..256 {
                if let Some(n) = so::ifname(index, &mut name) {
                    p.line(b"by_index", n);
                }
            }
            match mount_fs(&sysfs, &target) {
                Ok(()) => {
                    let mut path = [0u8; 256];
                    let class = path_in(&mut path, &[target.to_bytes(), b"/class/net"]);
                    p.line_num(b"sysfs", list_dir(p, b"sys", class));
                }
                Err(e) => p.line_num(b"sysfs_errno", e as i64),
            }
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let child = unsafe { fork_with(kinds_for(mode, Kind::Net.into(), Kind::Mnt.into()), child_body) };
        p.line_num(b"child_exit", raw::reap(child).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { run_spawn(nstests::scratch(Kind::Net | Kind::Mnt), child_body) }
        .expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add_veth", "config", "child_exit"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    let parent = out.values("parent_link");
    assert_eq!(parent, ["lo", "n1a", "n1b"], "the scratch parent's links\n{t}");
    if mode.isolates() {
        assert_eq!(out.values("link"), ["lo"], "{t}");
        assert_eq!(out.num("lo_flags") & 1, 0, "lo is DOWN\n{t}");
        assert_eq!(out.num("addrs"), 0, "{t}");
        assert_eq!(out.num("routes"), 0, "{t}");
        assert_eq!(out.values("by_index"), ["lo"], "{t}");
        assert_eq!(out.values("sys"), ["lo"], "{t}");
    } else {
        assert_eq!(out.values("link"), parent, "control sees the parent's links\n{t}");
        assert_eq!(out.values("by_index"), parent, "control\n{t}");
        assert_eq!(out.values("sys"), parent, "control\n{t}");
        assert!(out.num("addrs") > 0, "control sees the parent's addresses\n{t}");
        assert!(out.num("routes") > 0, "control sees the parent's routes\n{t}");
    }
}

/// N2: with `lo` up, TCP and UDP on 127.0.0.1 work inside; two namespaces bind the same port
/// at the same time without EADDRINUSE; the host's listener is unreachable from inside. The
/// test process's own loopback listeners (on ports the kernel picked) are the control: the
/// `none` child gets EADDRINUSE on their port and reaches them.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
#[case::pool(Mode::Pool)]
fn n2_loopback_tcp_udp_and_same_port_in_two_namespaces(#[case] mode: Mode) {
    // A TCP and a UDP socket of the host's loopback on one port P, and a second listener Q.
    let (tcp, udp, port) = (0..50)
        .find_map(|_| {
            let t = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
            let port = t.local_addr().ok()?.port();
            let u = std::net::UdpSocket::bind(("127.0.0.1", port)).ok()?;
            Some((t, u, port))
        })
        .expect("a free loopback port");
    let other = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let other_port = other.local_addr().unwrap().port();
    let kinds: KindSet = Kind::Net.into();
    let body = move |p: &Probe, tag: u8| -> i32 {
        let mut key = [0u8; 32];
        key[..2].copy_from_slice(&[tag, b'_']);
        let mut put = |what: &[u8], v: i64| {
            key[2..2 + what.len()].copy_from_slice(what);
            p.line_num(&key[..2 + what.len()], v);
        };
        if mode.isolates() {
            put(b"lo_up", err_of(raw::loopback_up()));
        }
        let lo = [127, 0, 0, 1];
        let t = so::bound(&so::Sa::v4(lo, port), SocketType::STREAM);
        let u = so::bound(&so::Sa::v4(lo, port), SocketType::DGRAM);
        put(b"tcp_bind", so::code(&t));
        put(b"udp_bind", so::code(&u));
        // the client sends, the listener serves (echoes), the client reads the echo back
        let echoed = |c: &OwnedFd, msg: &[u8], serve: &dyn Fn() -> i64| {
            let sent = rustix::net::send(c, msg, SendFlags::empty());
            let served = serve();
            let mut buf = [0u8; 8];
            let back = rustix::net::recv(c, &mut buf, RecvFlags::empty());
            (sent.is_ok() && served == 0 && back.is_ok_and(|(n, _)| &buf[..n] == msg)) as i64
        };
        if let Ok(t) = &t {
            match so::connected(&so::Sa::v4(lo, port), SocketType::STREAM) {
                Ok(c) => put(b"tcp_echo", echoed(&c, b"tcp", &|| so::serve_tcp_once(t))),
                Err(e) => put(b"tcp_echo", -(e.raw_os_error() as i64)),
            }
        }
        if let Ok(u) = &u {
            if let Ok(c) = so::connected(&so::Sa::v4(lo, port), SocketType::DGRAM) {
                put(b"udp_echo", echoed(&c, b"udp", &|| so::serve_udp_once(u)));
            }
        }
        // The host's other listener.
        let c = so::connected(&so::Sa::v4(lo, other_port), SocketType::STREAM);
        put(b"host_conn", so::code(&c));
        0
    };
    // A first namespace binds the port and holds it while a second one does the same.
    let unshare_kinds = effective_kinds(mode, kinds);
    let child_body = move |p: &Probe, gate: Gate| {
        if mode == Mode::Unshare && raw::unshare(unshare_kinds).is_err() {
            p.put(b"ready\n");
            return 90;
        }
        if mode.isolates() && raw::loopback_up().is_err() {
            p.put(b"ready\n");
            return 91;
        }
        let t = so::bound(&so::Sa::v4([127, 0, 0, 1], port), SocketType::STREAM);
        p.put(b"ready\n");
        gate.wait();
        match t {
            Ok(_) => 0,
            Err(e) => e.raw_os_error(),
        }
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let mut first = unsafe { Live::start(spawn_for(mode, kinds), child_body) }.expect("spawn first");
    let ready = first.until("ready");
    assert!(ready.contains("ready\n"), "first child not ready: {ready}");
    let child_body = |p: &Probe| body(p, b's');
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out = unsafe { nstests::run_in(mode, kinds, child_body) }.expect("spawn second");
    let first_status = first.finish().status;
    out.assert_ok();
    let t = out.text();
    if mode.isolates() {
        assert!(first_status.success(), "first namespace bound the port: {first_status}");
        assert_eq!(out.num("s_lo_up"), 0, "{t}");
        assert_eq!(out.num("s_tcp_bind"), 0, "same port in a second namespace\n{t}");
        assert_eq!(out.num("s_udp_bind"), 0, "{t}");
        assert_eq!(out.num("s_tcp_echo"), 1, "{t}");
        assert_eq!(out.num("s_udp_echo"), 1, "{t}");
        assert_eq!(
            out.num("s_host_conn"),
            -(libc::ECONNREFUSED as i64),
            "the host's listener is unreachable\n{t}"
        );
    } else {
        assert_eq!(
            first_status.code(),
            Some(libc::EADDRINUSE),
            "control: the host holds the port"
        );
        assert_eq!(out.num("s_tcp_bind"), -(libc::EADDRINUSE as i64), "control\n{t}");
        assert_eq!(out.num("s_udp_bind"), -(libc::EADDRINUSE as i64), "control\n{t}");
        assert_eq!(out.num("s_host_conn"), 0, "control reaches the host's listener\n{t}");
    }
    drop((tcp, udp, other));
}

const IP_A: [u8; 4] = [10, 231, 0, 1];
const IP_B: [u8; 4] = [10, 231, 0, 2];
const IP6_A: [u8; 16] = [0xfd, 0, 0x0e, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const IP6_B: [u8; 16] = [0xfd, 0, 0x0e, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// N3: two namespaces joined by a veth pair (made inside the first, the peer created straight
/// into the second with `IFLA_NET_NS_FD`) exchange TCP and UDP over IPv4 and IPv6; a third
/// namespace sees neither end (control: the first sees its own end, the second the peer).
#[test]
fn n3_veth_between_two_namespaces() {
    let child_body = |p: &Probe| {
        let mut b_serving = pipe();
        // B: the second namespace: configures its end and serves four echoes.
        let b_body = || {
            p.line_num(b"b_sees_peer", (so::ifindex(b"n3b") > 0) as i64);
            p.line_num(b"b_sees_a_end", (so::ifindex(b"n3a") > 0) as i64);
            let r = nl::configure(b"n3b", IP_B, IP6_B);
            p.line_num(b"b_config", r);
            let t4 = so::bound(&so::Sa::v4(IP_B, 7000), SocketType::STREAM);
            let t6 = so::bound(&so::Sa::v6(IP6_B, 7000), SocketType::STREAM);
            let u4 = so::bound(&so::Sa::v4(IP_B, 7001), SocketType::DGRAM);
            let u6 = so::bound(&so::Sa::v6(IP6_B, 7001), SocketType::DGRAM);
            let failed = [&t4, &t6, &u4, &u6].iter().filter(|s| s.is_err()).count();
            p.line_num(b"b_bind", failed as i64);
            signal(b_serving[1]);
            let (Ok(t4), Ok(t6), Ok(u4), Ok(u6)) = (t4, t6, u4, u6) else {
                return 4;
            };
            if r != 0 {
                return 4;
            }
            p.line_num(b"b_tcp4", so::serve_tcp_once(&t4));
            p.line_num(b"b_tcp6", so::serve_tcp_once(&t6));
            p.line_num(b"b_udp4", so::serve_udp_once(&u4));
            p.line_num(b"b_udp6", so::serve_udp_once(&u6));
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let Some(mut b) = (unsafe { Peer::start(Kind::Net, b_body) }) else {
            return 2;
        };
        p.line_num(b"add_veth", nl::add_veth(b"n3a", b"n3b", b.ns));
        // SAFETY: this process owns its copy of `b.ns` (an fd made for this test) and does not use
        // it again.
        unsafe { nstests::child::close(b.ns) };
        p.line_num(b"a_sees_own", (so::ifindex(b"n3a") > 0) as i64);
        p.line_num(b"a_sees_peer", (so::ifindex(b"n3b") > 0) as i64);
        p.line_num(b"a_config", nl::configure(b"n3a", IP_A, IP6_A));
        b.go();
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        if !unsafe { wait_ready(&mut b_serving) } {
            return 5;
        }
        // C: a third namespace sees neither end.
        let c_body = || {
            p.line_num(b"c_links", nl::report_links(p, b"c_link"));
            p.line_num(b"c_a", so::ifindex(b"n3a"));
            p.line_num(b"c_b", so::ifindex(b"n3b"));
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let c = unsafe { fork_with(Kind::Net.into(), c_body) };
        p.line_num(b"c_exit", raw::reap(c).unwrap_or(-1) as i64);
        let (st, dg) = (SocketType::STREAM, SocketType::DGRAM);
        p.line_num(b"tcp4", so::echo(so::connected(&so::Sa::v4(IP_B, 7000), st), b"t4"));
        p.line_num(b"tcp6", so::echo(so::connected(&so::Sa::v6(IP6_B, 7000), st), b"t6"));
        p.line_num(b"udp4", so::echo(so::connected(&so::Sa::v4(IP_B, 7001), dg), b"u4"));
        p.line_num(b"udp6", so::echo(so::connected(&so::Sa::v6(IP6_B, 7001), dg), b"u6"));
        p.line_num(b"b_exit", raw::reap(b.pid).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out =
        unsafe { run_spawn(nstests::scratch(Kind::Net.into()), child_body) }.expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add_veth", "a_config", "b_config", "b_bind", "c_exit", "b_exit"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    for key in ["a_sees_own", "b_sees_peer", "tcp4", "tcp6", "udp4", "udp6"] {
        assert_eq!(out.num(key), 1, "{key}\n{t}");
    }
    assert_eq!(out.num("a_sees_peer"), 0, "{t}");
    assert_eq!(out.num("b_sees_a_end"), 0, "{t}");
    assert_eq!(out.values("c_link"), ["lo"], "{t}");
    assert_eq!(out.num("c_a"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("c_b"), -(libc::ENODEV as i64), "{t}");
}

/// N4: per-namespace sysctls `net.ipv4.ip_forward` and
/// `net.ipv4.ip_unprivileged_port_start` set inside are seen inside, not outside; the `none`
/// control (in a scratch network namespace, never the host's) sees them shared. The host's
/// values are read before and after.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n4_net_sysctls_per_namespace(#[case] mode: Mode) {
    // Values different from the scratch namespace's defaults (ip_forward 0, port start 1024).
    const SYSCTLS: [(&str, &[u8]); 2] = [
        ("/proc/sys/net/ipv4/ip_forward", b"1"),
        ("/proc/sys/net/ipv4/ip_unprivileged_port_start", b"777"),
    ];
    let inside = |_: &Probe| true;
    let report = |_: &Probe, _: u8| {};
    // SAFETY: `inside` and `report` do nothing.
    unsafe {
        nstests::sysctl::check_per_namespace(
            nstests::scratch(Kind::Net.into()),
            mode,
            Kind::Net.into(),
            &SYSCTLS,
            inside,
            report,
        )
    };
}

/// N5: abstract AF_UNIX sockets belong to the network namespace: a listener bound in the
/// parent's namespace is unreachable (ECONNREFUSED) from a child in a new one; a pathname
/// socket (in a temporary directory) is reachable from both. The `none` control reaches both.
#[rstest]
#[case::none(Mode::None)]
#[case::clone(Mode::Clone)]
#[case::unshare(Mode::Unshare)]
fn n5_abstract_unix_sockets_per_namespace_pathname_not(#[case] mode: Mode) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock_path = dir.path().join("n5.sock");
    use std::os::unix::ffi::OsStrExt;
    let path_b = sock_path.as_os_str().as_bytes().to_vec();
    let abs = nstests::unique("nstests-n5-").into_bytes();
    let child_body = |p: &Probe| {
        let la = so::bound(&so::Sa::unix(&abs, true), SocketType::STREAM);
        let lp = so::bound(&so::Sa::unix(&path_b, false), SocketType::STREAM);
        p.line_num(b"bind_abstract", so::code(&la));
        p.line_num(b"bind_path", so::code(&lp));
        let gc_body = || {
            if !enter(mode, Kind::Net.into(), p) {
                return 4;
            }
            let a = so::connected(&so::Sa::unix(&abs, true), SocketType::STREAM);
            p.line_num(b"abstract", so::code(&a));
            let b = so::connected(&so::Sa::unix(&path_b, false), SocketType::STREAM);
            p.line_num(b"path", so::code(&b));
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let gc = unsafe { fork_with(kinds_for(mode, Kind::Net.into(), KindSet::EMPTY), gc_body) };
        p.line_num(b"gc_exit", raw::reap(gc).unwrap_or(-1) as i64);
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out =
        unsafe { run_spawn(nstests::scratch(Kind::Net.into()), child_body) }.expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["bind_abstract", "bind_path", "gc_exit", "path"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    let want = if mode.isolates() {
        -(libc::ECONNREFUSED as i64)
    } else {
        0
    };
    assert_eq!(out.num("abstract"), want, "mode {mode}\n{t}");
}

/// N6: lifetime seen from outside, by the veth end that stays in the observer's namespace:
/// when the peer's namespace ends, both ends die; while an nsfd or a socket made in that
/// namespace is held, it lives on (the end survives the last process) until released.
#[test]
fn n6_veth_end_shows_namespace_lifetime() {
    let own = cstr("/proc/self/ns/net");
    let child_body = |p: &Probe| {
        let own_fd = raw::open(&own).unwrap_or(-1);
        // Three rounds: held by nothing, by an nsfd, by a socket.
        for (round, name, peer) in [
            (b'n', b"n6n".as_slice(), b"n6np".as_slice()),
            (b'f', b"n6f", b"n6fp"),
            (b's', b"n6s", b"n6sp"),
        ] {
            let mut key = [0u8; 32];
            key[..2].copy_from_slice(&[round, b'_']);
            let mut put = |what: &[u8], v: i64| {
                key[2..2 + what.len()].copy_from_slice(what);
                p.line_num(&key[..2 + what.len()], v);
            };
            // SAFETY: the grandchild's body does nothing.
            let Some(mut b) = (unsafe { Peer::start(Kind::Net, || 0) }) else {
                return 2;
            };
            let bfd = b.ns;
            put(b"add", nl::add_veth(name, peer, bfd));
            let mut sock = None;
            if round == b's' {
                // A socket made inside B (join, socket, back).
                if raw::setns(bfd, Kind::Net.into()).is_ok() {
                    sock = so::socket(&so::Sa::v4([0; 4], 0), SocketType::DGRAM).ok();
                    put(b"back", raw::setns(own_fd, Kind::Net.into()).map_or(-1, |_| 0));
                }
                put(b"sock", sock.is_some() as i64);
            }
            if round != b'f' {
                // SAFETY: this process owns its copy of `bfd` (a pipe end or fd made for this test)
                // and does not use it again.
                unsafe { nstests::child::close(bfd) };
            }
            b.go();
            put(b"exit", raw::reap(b.pid).unwrap_or(-1) as i64);
            if round == b'n' {
                put(b"gone", so::wait_gone(name) as i64);
            } else {
                sleep_ms(200);
                put(b"survives", (so::ifindex(name) > 0) as i64);
                // release what holds the namespace: the nsfd, or the socket made there
                if round == b'f' {
                    // SAFETY: this process owns `bfd` (opened above) and does not use it again.
                    unsafe { nstests::child::close(bfd) };
                } else {
                    drop(sock);
                }
                put(b"gone_after_release", so::wait_gone(name) as i64);
            }
        }
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out =
        unsafe { run_spawn(nstests::scratch(Kind::Net.into()), child_body) }.expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["n_add", "f_add", "s_add", "n_exit", "f_exit", "s_exit", "s_back"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    assert_eq!(out.num("s_sock"), 1, "{t}");
    assert_eq!(out.num("n_gone"), 1, "the end dies with the peer's namespace\n{t}");
    assert_eq!(out.num("f_survives"), 1, "an nsfd keeps the namespace\n{t}");
    assert_eq!(out.num("s_survives"), 1, "a socket keeps the namespace\n{t}");
    assert_eq!(out.num("f_gone_after_release"), 1, "{t}");
    assert_eq!(out.num("s_gone_after_release"), 1, "{t}");
}

/// N7: a device moves into another namespace and back (`IFLA_NET_NS_FD`); while it is away
/// the first namespace has no device of that name, and setting an address on its index from
/// there fails with ENODEV (control: the same call works once it is back).
#[test]
fn n7_move_device_in_and_back_address_only_where_it_is() {
    let own = cstr("/proc/self/ns/net");
    let child_body = |p: &Probe| {
        let own_fd = raw::open(&own).unwrap_or(-1);
        p.line_num(b"add", nl::add_veth(b"n7a", b"n7b", -1));
        let index = so::ifindex(b"n7a");
        p.line_num(b"index_pos", (index > 0) as i64);
        let mut moved = pipe();
        let b_body = || {
            p.line_num(b"b_sees", (so::ifindex(b"n7a") > 0) as i64);
            p.line_num(b"b_move_back", nl::move_link(b"n7a", own_fd));
            p.line_num(b"b_sees_after", so::ifindex(b"n7a"));
            signal(moved[1]);
            0
        };
        // SAFETY: the grandchild's body makes only raw system calls on memory made before the fork
        // and closes only its own pipe ends.
        let Some(mut b) = (unsafe { Peer::start(Kind::Net, b_body) }) else {
            return 2;
        };
        p.line_num(b"move", nl::move_link(b"n7a", b.ns));
        // SAFETY: this process owns its copy of `b.ns` (an fd made for this test) and does not use
        // it again.
        unsafe { nstests::child::close(b.ns) };
        p.line_num(b"a_sees_away", so::ifindex(b"n7a"));
        let addr = [10, 231, 7, 1];
        p.line_num(b"addr_away", nl::add_addr(index as u32, &addr, 24));
        b.go();
        // SAFETY: this process owns its copy of the write end (made by `pipe` for this test) and
        // does not use it again.
        unsafe { wait_ready(&mut moved) };
        p.line_num(b"b_exit", raw::reap(b.pid).unwrap_or(-1) as i64);
        let back = so::ifindex(b"n7a");
        p.line_num(b"a_sees_back", (back > 0) as i64);
        p.line_num(b"addr_back", nl::add_addr(back as u32, &addr, 24));
        0
    };
    // SAFETY: the body makes only raw system calls on memory made before the spawn (no allocation,
    // no lock, no panic) and closes only pipe ends it made.
    let out =
        unsafe { run_spawn(nstests::scratch(Kind::Net.into()), child_body) }.expect("spawn scratch network namespace");
    out.assert_ok();
    let t = out.text();
    for key in ["add", "move", "b_move_back", "b_exit", "addr_back"] {
        assert_eq!(out.num(key), 0, "{key}\n{t}");
    }
    for key in ["index_pos", "b_sees", "a_sees_back"] {
        assert_eq!(out.num(key), 1, "{key}\n{t}");
    }
    assert_eq!(out.num("a_sees_away"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("b_sees_after"), -(libc::ENODEV as i64), "{t}");
    assert_eq!(out.num("addr_away"), libc::ENODEV as i64, "{t}");
}
