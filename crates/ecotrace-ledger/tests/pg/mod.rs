//! PostgreSQL test helpers: a fresh database per test on the server `scripts/test` starts
//! (`ECOTRACE_TEST_POSTGRES`), and a loopback TCP proxy that can cut the connection, to play an
//! outage without stopping the shared server. Test-only; checks nothing itself.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server's URL, or `None` after printing why the test is skipped.
pub fn server(test: &str) -> Option<String> {
    match std::env::var("ECOTRACE_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => {
            eprintln!(
                "skipped: {test}: ECOTRACE_TEST_POSTGRES is not set (scripts/test starts a PostgreSQL server when Debian's postgresql package is installed)"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{db}")
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Creates an empty database for one test and returns its URL.
pub fn fresh_db(url: &str, name: &str) -> String {
    let db = format!(
        "t_{}_{}_{}",
        name.to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(url, postgres::NoTls).expect("admin connection");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .expect("drop an old test database");
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .expect("create the test database");
    with_db(url, &db)
}

/// The `host:port` of a URL.
pub fn addr_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let hostport = authority.rsplit('@').next().unwrap();
    hostport.parse().expect("an IP:port URL")
}

/// `url` pointing at `addr` instead of its own host and port.
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{user}{addr}/{path}")
}

/// A loopback TCP proxy to the server that can be switched off (open connections are cut, new
/// ones closed at once) and on again.
pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, o) = (down.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
                else {
                    continue;
                };
                {
                    let mut o = o.lock().unwrap();
                    o.push(client.try_clone().unwrap());
                    o.push(server.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { addr, down, open }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
