//! A mock HTTP server on loopback for the live-provider tests: each connection is answered on its
//! own thread by a handler (or never answered), every request is recorded, and the providers'
//! fixtures are served with their timestamps moved to the test's clock. Nothing leaves the
//! machine.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.replace("%3A", ":").replace("%2B", "+"))
        })
    }
}

pub enum Reply {
    /// Status, body, extra headers.
    Status(u16, String, Vec<(&'static str, String)>),
    /// Accept the connection and never answer.
    Hang,
}

pub fn json(body: impl Into<String>) -> Reply {
    Reply::Status(200, body.into(), Vec::new())
}

pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    pub fn requests(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves `handler` on a free loopback port until the test process ends.
pub fn serve(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let handler = handler.clone();
            let seen = s2.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = match target.split_once('?') {
                    Some((p, q)) => (p.to_string(), q.to_string()),
                    None => (target, String::new()),
                };
                let mut headers = Vec::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let req = Req {
                    path,
                    query,
                    headers,
                };
                seen.lock().unwrap().push(req.clone());
                match handler(&req) {
                    Reply::Hang => std::thread::sleep(Duration::from_secs(60)),
                    Reply::Status(code, body, extra) => {
                        let mut head = format!(
                            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in extra {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(body.as_bytes());
                    }
                }
            });
        }
    });
    Server { url, seen }
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/providers")
        .join(name)
}

/// A fixture as JSON.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_path(name)).unwrap()).unwrap()
}

const TIME_KEYS: [&str; 7] = [
    "datetime",
    "from",
    "to",
    "point_time",
    "updatedAt",
    "createdAt",
    "generated_at",
];

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| {
            let i = s.rfind(['Z', '+'])?;
            let (h, t) = s.split_at(i);
            DateTime::parse_from_rfc3339(&format!("{h}:00{t}")).ok()
        })
        .map(|t| t.with_timezone(&Utc))
}

/// Every timestamp of `v` moved by `by`.
pub fn shift(v: &mut Value, by: chrono::Duration) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| shift(x, by)),
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if TIME_KEYS.contains(&k.as_str()) => {
                        if let Some(t) = time(s) {
                            *s = (t + by).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                        }
                    }
                    other => shift(other, by),
                }
            }
        }
        _ => {}
    }
}

/// The `(time, value)` pairs of the timed entries of `v` (`datetime`/`carbonIntensity`,
/// `from`/`intensity`, `point_time`/`value`), in order.
pub fn points(v: &Value) -> Vec<(DateTime<Utc>, f64)> {
    let mut out = Vec::new();
    let mut walk = vec![v];
    while let Some(x) = walk.pop() {
        match x {
            Value::Array(a) => walk.extend(a.iter().rev()),
            Value::Object(o) => {
                let t = ["datetime", "from", "point_time"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str).and_then(time));
                let val = o
                    .get("carbonIntensity")
                    .and_then(Value::as_f64)
                    .or_else(|| o.get("value").and_then(Value::as_f64))
                    .or_else(|| {
                        let i = o.get("intensity")?;
                        i.get("actual")
                            .and_then(Value::as_f64)
                            .or_else(|| i.get("forecast").and_then(Value::as_f64))
                    });
                match (t, val) {
                    (Some(t), Some(v)) => out.push((t, v)),
                    _ => walk.extend(o.values().rev()),
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|p| p.0);
    out
}

/// The fixture with its first timed entry moved to `first`.
pub fn fixture_from(name: &str, first: DateTime<Utc>) -> Value {
    let mut v = fixture(name);
    let t0 = points(&v)[0].0;
    shift(&mut v, first - t0);
    v
}
