//! A minimal HTTP/1.x server for `GET /metrics`, enough for Prometheus to scrape.
//!
//! One thread blocked in `accept` (no polling: a scrape is answered at once); each connection is
//! answered on its own short-lived thread, at most [`MAX_CONNECTIONS`] at once (more are answered
//! 503 at once), so a slow client holds only its own connection, never the next scrape. One
//! request per connection, a 2 s read timeout, requests larger than [`MAX_REQUEST`] refused with
//! 431. It serves the page the agent rendered at its last interval — taking it is an `Arc` clone
//! under a lock held for nothing else, and the answer is written in one `write` with Nagle off —
//! and must not do anything else (no ingest, nothing writable).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The page served at `/metrics`: replaced whole by the agent at every interval.
pub type Page = Arc<Mutex<Arc<str>>>;

/// Connections answered at once; more are refused with 503 until one ends.
pub const MAX_CONNECTIONS: usize = 16;

/// Largest request (line and headers) read.
pub const MAX_REQUEST: usize = 8 * 1024;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `page` at `/metrics` on `listener` until `stop` is set (then [`wake`] it).
pub fn serve(listener: TcpListener, page: Page, stop: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let mut stream = match conn {
            Ok(stream) => stream,
            // Out of descriptors: give the clients a moment to leave.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
            respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                b"too many connections; retry\n",
                false,
            );
            continue;
        }
        let (page, done) = (page.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("ecotrace-http-conn".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                handle(stream, &page);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Wakes a [`serve`] blocked in `accept` on `addr` (after `stop` was set).
pub fn wake(addr: SocketAddr) {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let _ = TcpStream::connect_timeout(&SocketAddr::new(ip, addr.port()), Duration::from_secs(1));
}

/// Binds `addr`, with a message that says what to do when it is taken.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
}

fn handle(mut s: TcpStream, page: &Mutex<Arc<str>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            break;
        }
        if buf.len() > MAX_REQUEST {
            respond(
                &mut s,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request too large\n",
                false,
            );
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return,
        }
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            // The lock is held for an `Arc` clone: never while the agent renders.
            let body = Arc::clone(&page.lock().unwrap_or_else(|e| e.into_inner()));
            respond(
                &mut s,
                "200 OK",
                CONTENT_TYPE,
                body.as_bytes(),
                method == "HEAD",
            );
        }
        ("GET" | "HEAD", "/") => respond(
            &mut s,
            "200 OK",
            "text/plain; charset=utf-8",
            b"ecotrace agent: metrics at /metrics\n",
            method == "HEAD",
        ),
        ("GET" | "HEAD", _) => respond(
            &mut s,
            "404 Not Found",
            "text/plain",
            b"not found; try /metrics\n",
            method == "HEAD",
        ),
        _ => respond(
            &mut s,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n",
            false,
        ),
    }
}

/// Writes the whole answer at once (head and body in one buffer: no small segment for Nagle and
/// delayed ACKs to hold back). `head_only` for HEAD: the body's length, not the body.
fn respond(s: &mut TcpStream, status: &str, ctype: &str, body: &[u8], head_only: bool) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + if head_only { 0 } else { body.len() });
    out.extend_from_slice(head.as_bytes());
    if !head_only {
        out.extend_from_slice(body);
    }
    let _ = s.write_all(&out);
    let _ = s.flush();
}

/// A blocking `GET` of `path` on `addr` (tests, `ecotrace agent --check`): status code and body.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}
