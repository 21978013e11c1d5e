//! Network escape attempts against listeners on 127.0.0.1 and ::1. Each
//! test first connects for real without the sandbox (the listener sees it).

use crate::sandbox_support;

use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sandbox_support::{Fixture, require, require_tool};
use warden::config::NetworkMode;
use warden::sandbox::RefusalKind;

/// A TCP listener counting accepted connections (answers a tiny HTTP reply).
fn listener(addr: &str) -> Option<(u16, Arc<AtomicUsize>)> {
    let l = TcpListener::bind(addr).ok()?;
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            use std::io::Write;
            let mut s = s;
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    Some((port, hits))
}

async fn assert_tcp_blocked(f: &Fixture, host: &str, make_script: impl Fn(u16) -> String) {
    let bind = if host.contains(':') {
        format!("[{host}]:0")
    } else {
        format!("{host}:0")
    };
    let listening = listener(&bind);
    if !require(listening.is_some(), &format!("cannot listen on {bind}")) {
        return;
    }
    let (port, hits) = listening.unwrap();
    let script = make_script(port);
    let direct = f.run_direct(&script);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        direct.status.success() && hits.load(Ordering::SeqCst) >= 1,
        "control: `{script}` did not connect: {direct:?}"
    );
    let before = hits.load(Ordering::SeqCst);
    let out = f.run(&script).await;
    std::thread::sleep(Duration::from_millis(50));
    assert_ne!(
        out.exit_code,
        Some(0),
        "`{script}` succeeded in the sandbox: {out:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "`{script}` reached the listener"
    );
    assert!(!out.enforcement.network);
    assert!(
        out.refusals.iter().any(|r| r.kind == RefusalKind::Network),
        "no network refusal: {:?} / {}",
        out.refusals,
        out.stderr
    );
}

#[tokio::test]
async fn curl_to_ipv4_loopback_is_refused() {
    let f = Fixture::new();
    if !require_tool("curl") {
        return;
    }
    assert_tcp_blocked(&f, "127.0.0.1", |p| {
        format!("curl -sS --max-time 5 http://127.0.0.1:{p}/")
    })
    .await;
}

#[tokio::test]
async fn curl_to_ipv6_loopback_is_refused() {
    let f = Fixture::new();
    if !require_tool("curl") {
        return;
    }
    assert_tcp_blocked(&f, "::1", |p| {
        format!("curl -sS --max-time 5 'http://[::1]:{p}/'")
    })
    .await;
}

#[tokio::test]
async fn bash_dev_tcp_is_refused() {
    let f = Fixture::new();
    assert_tcp_blocked(&f, "127.0.0.1", |p| {
        format!("exec 3<>/dev/tcp/127.0.0.1/{p} && echo hi >&3")
    })
    .await;
}

#[tokio::test]
async fn python_tcp_is_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    assert_tcp_blocked(&f, "127.0.0.1", |p| {
        format!("python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {p}), 5)'")
    })
    .await;
}

#[tokio::test]
async fn python_udp_is_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let script = format!(
        "python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"leak\", (\"127.0.0.1\", {port}))'"
    );
    let direct = f.run_direct(&script);
    let mut buf = [0u8; 16];
    assert!(
        direct.status.success() && sock.recv(&mut buf).is_ok(),
        "control: UDP did not arrive"
    );
    let out = f.run(&script).await;
    assert_ne!(out.exit_code, Some(0));
    assert!(
        sock.recv(&mut buf).is_err(),
        "UDP datagram left the sandbox"
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn network_on_lifts_the_block_and_says_so() {
    let f = Fixture::new();
    let Some((port, hits)) = listener("127.0.0.1:0") else {
        return;
    };
    let mut cfg = f.sandbox_config();
    cfg.network = NetworkMode::On;
    let policy = f.policy_with(warden::config::SandboxMode::WorkspaceWrite, cfg);
    let out = f
        .run_with(
            &policy,
            &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo hi >&3"),
            Default::default(),
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert!(out.enforcement.network && !out.enforcement.network_tcp_landlock);
    std::thread::sleep(Duration::from_millis(50));
    assert!(hits.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn unix_sockets_still_work_with_the_network_off() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let out = f
        .run("python3 -c 'import socket; a,b=socket.socketpair(); a.send(b\"ok\"); print(b.recv(2).decode())'")
        .await;
    assert_eq!(out.stdout, "ok\n", "{out:?}");
}

/// A unix socket server outside the sandbox, like the Docker socket a
/// hosted runner's user can open (root on the machine): with the network
/// off the command cannot connect to it, by curl or python; a network
/// grant lifts that with the rest.
#[tokio::test]
async fn connecting_to_a_unix_socket_outside_is_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docker.sock");
    let server = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for mut s in server.incoming().flatten() {
            h.fetch_add(1, Ordering::SeqCst);
            use std::io::{Read, Write};
            // Read the request (curl sends one, python does not) before
            // answering: closing a unix socket with unread data resets it.
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = s.read(&mut [0u8; 1024]);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    let p = path.display();
    let mut scripts = vec![format!(
        "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"{p}\"); print(s.recv(99))'"
    )];
    if require_tool("curl") {
        scripts.push(format!(
            "curl -sS --max-time 5 --unix-socket {p} http://localhost/info"
        ));
    }
    for script in &scripts {
        let direct = f.run_direct(script);
        assert!(direct.status.success(), "control: `{script}`: {direct:?}");
        let before = hits.load(Ordering::SeqCst);
        let out = f.run(script).await;
        assert_ne!(out.exit_code, Some(0), "`{script}` connected: {out:?}");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            hits.load(Ordering::SeqCst),
            before,
            "`{script}` reached the server"
        );
        assert!(
            out.refusals.iter().any(|r| r.kind == RefusalKind::Network),
            "no network refusal for `{script}`: {:?} / {}",
            out.refusals,
            out.stderr
        );
    }

    let mut cfg = f.sandbox_config();
    cfg.network = NetworkMode::On;
    let policy = f.policy_with(warden::config::SandboxMode::WorkspaceWrite, cfg);
    let out = f.run_with(&policy, &scripts[0], Default::default()).await;
    assert_eq!(out.exit_code, Some(0), "network on: {out:?}");
}

/// `sendto` with an address (an unconnected datagram socket) is refused
/// too; `socketpair` traffic keeps working (above).
#[tokio::test]
async fn unix_datagrams_to_an_address_are_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sock");
    let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let script = format!(
        "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"hi\", \"{}\")'",
        path.display()
    );
    let direct = f.run_direct(&script);
    assert!(direct.status.success(), "control: {direct:?}");
    let mut buf = [0u8; 8];
    assert_eq!(server.recv(&mut buf).unwrap(), 2, "control datagram");
    let out = f.run(&script).await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(server.recv(&mut buf).is_err(), "a datagram got through");
}
