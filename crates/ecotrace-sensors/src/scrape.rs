//! Counting a model server's work from its Prometheus endpoint: a [`WorkSource`] reads the
//! server's cumulative counters (requests, prompt tokens, generated tokens) and its in-flight
//! gauges; [`CounterFollower`] turns successive readings into the work done between them, across
//! server restarts (counter resets).
//!
//! vLLM and Hugging Face TGI are recognised from their metric names; any other server is read
//! through the names the user gives (`--requests-metric`, `--tokens-metric`,
//! `--prompt-tokens-metric`). The HTTP client is a minimal HTTP/1.1 GET over a TCP stream kept
//! open between reads (Prometheus endpoints are plain HTTP, usually on loopback): one request
//! and one answer per read, no connection set up each second; it never blocks longer than its
//! timeout per socket operation. Once the server is recognised, only its metrics' lines are
//! parsed, without allocating.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use ecotrace_core::serving::{SourceRead, WorkCounts};

/// A metrics URL that cannot be scraped (a usage error: the message says how to write it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadUrl(pub String);

/// One reading of a server's counters (cumulative since it started) and in-flight gauge.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub requests: f64,
    pub prompt_tokens: Option<f64>,
    pub generated_tokens: Option<f64>,
    /// Requests running or queued, when the server exposes it.
    pub in_flight: Option<f64>,
}

/// Something that reads a server's work counters.
pub trait WorkSource: Send {
    fn read(&mut self) -> Result<Reading, String>;
    /// What the counts come from, for the record (`vllm metrics at URL`).
    fn describe(&self) -> String;
}

/// The metric names of one kind of server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricNames {
    /// `vllm`, `tgi` or `custom`.
    pub flavour: &'static str,
    pub requests: String,
    pub prompt_tokens: Option<String>,
    pub generated_tokens: Option<String>,
    /// Gauges summed into the number of requests in flight.
    pub in_flight: Vec<String>,
}

impl MetricNames {
    /// vLLM's names (`vllm:request_success_total` is labelled by finish reason: summed).
    pub fn vllm() -> Self {
        MetricNames {
            flavour: "vllm",
            requests: "vllm:request_success_total".into(),
            prompt_tokens: Some("vllm:prompt_tokens_total".into()),
            generated_tokens: Some("vllm:generation_tokens_total".into()),
            in_flight: vec![
                "vllm:num_requests_running".into(),
                "vllm:num_requests_waiting".into(),
            ],
        }
    }

    /// Hugging Face text-generation-inference's names (token counts are histogram sums).
    pub fn tgi() -> Self {
        MetricNames {
            flavour: "tgi",
            requests: "tgi_request_success".into(),
            prompt_tokens: Some("tgi_request_input_length_sum".into()),
            generated_tokens: Some("tgi_request_generated_tokens_sum".into()),
            in_flight: vec!["tgi_batch_current_size".into(), "tgi_queue_size".into()],
        }
    }

    /// Names the user gave for another server.
    pub fn custom(requests: String, tokens: Option<String>, prompt: Option<String>) -> Self {
        MetricNames {
            flavour: "custom",
            requests,
            prompt_tokens: prompt,
            generated_tokens: tokens,
            in_flight: Vec::new(),
        }
    }

    /// The reading from an exposition's text, parsing only this server's lines (no allocation).
    fn read_text(&self, text: &[u8]) -> Result<Reading, String> {
        let mut requests = None::<f64>;
        let mut prompt = 0.0;
        let mut generated = 0.0;
        let mut in_flight = None::<f64>;
        let is = |n: &Option<String>, name: &[u8]| n.as_ref().is_some_and(|n| n.as_bytes() == name);
        for_each_sample(text, |name, v| {
            if name == self.requests.as_bytes() {
                *requests.get_or_insert(0.0) += v;
            } else if is(&self.generated_tokens, name) {
                generated += v;
            } else if is(&self.prompt_tokens, name) {
                prompt += v;
            } else if self.in_flight.iter().any(|n| n.as_bytes() == name) {
                *in_flight.get_or_insert(0.0) += v;
            }
        });
        let requests = requests.ok_or_else(|| self.missing())?;
        Ok(Reading {
            requests,
            prompt_tokens: self.prompt_tokens.as_ref().map(|_| prompt),
            generated_tokens: self.generated_tokens.as_ref().map(|_| generated),
            in_flight,
        })
    }

    fn missing(&self) -> String {
        format!(
            "metric {} is not exposed (yet: a counter may appear with the first request)",
            self.requests
        )
    }

    fn present_in(&self, m: &BTreeMap<String, f64>) -> bool {
        m.contains_key(&self.requests)
            || self
                .generated_tokens
                .as_ref()
                .is_some_and(|n| m.contains_key(n))
    }

    fn reading(&self, m: &BTreeMap<String, f64>) -> Result<Reading, String> {
        let requests = *m.get(&self.requests).ok_or_else(|| self.missing())?;
        let get = |n: &Option<String>| n.as_ref().map(|n| m.get(n).copied().unwrap_or(0.0));
        let gauges: Vec<f64> = self
            .in_flight
            .iter()
            .filter_map(|n| m.get(n).copied())
            .collect();
        Ok(Reading {
            requests,
            prompt_tokens: get(&self.prompt_tokens),
            generated_tokens: get(&self.generated_tokens),
            in_flight: (!gauges.is_empty()).then(|| gauges.iter().sum()),
        })
    }
}

/// Parses the Prometheus text exposition format into the sum of every sample per metric name
/// (labels summed over). Comments, malformed lines and non-finite values are skipped.
pub fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for_each_sample(text.as_bytes(), |name, v| {
        *out.entry(String::from_utf8_lossy(name).into_owned())
            .or_insert(0.0) += v;
    });
    out
}

/// Calls `f(name, value)` for every sample line of an exposition (labels not parsed; comments,
/// malformed lines and non-finite values skipped). Allocates nothing.
fn for_each_sample(text: &[u8], mut f: impl FnMut(&[u8], f64)) {
    let blank = |b: &u8| *b == b' ' || *b == b'\t' || *b == b'\r';
    for line in text.split(|&b| b == b'\n') {
        let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
        let line = &line[start..];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let (name, rest) = match line
            .iter()
            .position(|&b| b == b'{' || b == b' ' || b == b'\t')
        {
            Some(i) if line[i] == b'{' => match line.iter().rposition(|&b| b == b'}') {
                Some(j) if j > i => (&line[..i], &line[j + 1..]),
                _ => continue,
            },
            Some(i) => (&line[..i], &line[i..]),
            None => continue,
        };
        let Some(v) = rest.split(blank).find(|t| !t.is_empty()) else {
            continue;
        };
        let v = match std::str::from_utf8(v).map(str::parse::<f64>) {
            Ok(Ok(x)) if x.is_finite() => x,
            _ => continue,
        };
        f(name, v);
    }
}

/// A `http://HOST:PORT/PATH` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpUrl {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<HttpUrl, BadUrl> {
    let bad = |why: &str| {
        BadUrl(format!(
            "metrics URL {url:?}: {why}; give it as http://HOST:PORT/metrics"
        ))
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only plain http:// endpoints can be scraped"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
        }
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(HttpUrl {
        host: host.trim_start_matches('[').trim_end_matches(']').into(),
        port,
        path: path.into(),
    })
}

/// A server's Prometheus endpoint, scraped over HTTP.
pub struct PrometheusSource {
    url: String,
    target: HttpUrl,
    /// None until recognised (vLLM or TGI) from the first answer.
    names: Option<MetricNames>,
    timeout: Duration,
    /// The request, written in one system call.
    request: Vec<u8>,
    addr: Option<SocketAddr>,
    /// The connection, kept open between reads while the server allows it.
    conn: Option<TcpStream>,
    /// The last answer (head and body).
    buf: Vec<u8>,
    /// The decoded body of a chunked answer.
    chunks: Vec<u8>,
}

/// Where the body of an answer is and whether the connection can be used again.
struct Answer {
    body: std::ops::Range<usize>,
    chunked: bool,
    keep: bool,
}

impl PrometheusSource {
    /// `names` None: recognise vLLM or TGI from the metrics themselves.
    pub fn new(url: &str, names: Option<MetricNames>, timeout: Duration) -> Result<Self, BadUrl> {
        let target = parse_url(url)?;
        let host = if target.host.contains(':') {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nAccept: text/plain\r\nUser-Agent: ecotrace\r\n\r\n",
            target.path, target.port
        )
        .into_bytes();
        Ok(PrometheusSource {
            url: url.to_string(),
            target,
            names,
            timeout,
            request,
            addr: None,
            conn: None,
            buf: Vec::with_capacity(16 * 1024),
            chunks: Vec::new(),
        })
    }

    fn connect(&mut self) -> Result<TcpStream, String> {
        let t = &self.target;
        let addr = match self.addr {
            Some(a) => a,
            None => (t.host.as_str(), t.port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
                .next()
                .ok_or_else(|| format!("no address for {}", t.host))?,
        };
        let s = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            // Resolved again next time: the name may point elsewhere by then.
            self.addr = None;
            e.to_string()
        })?;
        self.addr = Some(addr);
        s.set_read_timeout(Some(self.timeout))
            .and_then(|()| s.set_write_timeout(Some(self.timeout)))
            .and_then(|()| s.set_nodelay(true))
            .map_err(|e| e.to_string())?;
        Ok(s)
    }

    /// Sends the request and reads the answer into `buf`, on the kept connection if there is
    /// one (once more on a new connection if the server had closed it), else a new one.
    fn exchange(&mut self) -> Result<Answer, String> {
        if let Some(mut s) = self.conn.take() {
            // A kept connection the server closed in the meantime fails at once; anything else
            // that fails on it is tried again below, on a fresh connection.
            if let Ok(a) = self.request_on(&mut s) {
                if a.keep {
                    self.conn = Some(s);
                }
                return Ok(a);
            }
        }
        let mut s = self.connect()?;
        let a = self.request_on(&mut s)?;
        if a.keep {
            self.conn = Some(s);
        }
        Ok(a)
    }

    fn request_on(&mut self, s: &mut TcpStream) -> Result<Answer, String> {
        s.write_all(&self.request).map_err(|e| e.to_string())?;
        self.buf.clear();
        let mut head_end = None;
        let mut scanned = 0usize;
        // The head.
        let head_len = loop {
            if let Some(i) = head_end {
                break i;
            }
            if read_more(s, &mut self.buf)? == 0 {
                return Err("the server closed the connection without answering".into());
            }
            let from = scanned.saturating_sub(3);
            head_end = find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i + 4);
            scanned = self.buf.len();
            if head_end.is_none() && self.buf.len() > 64 * 1024 {
                return Err("not an HTTP answer (no end of headers in 64 KiB)".into());
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_len])
            .map_err(|_| "not an HTTP answer".to_string())?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.split_whitespace();
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/") {
            return Err("not an HTTP answer".into());
        }
        if parts.next() != Some("200") {
            // The connection is dropped with its unread body.
            return Err(format!("HTTP {status_line}"));
        }
        let mut length = None::<usize>;
        let mut chunked = false;
        let mut keep = version == "HTTP/1.1";
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("connection") {
                let v = v.to_ascii_lowercase();
                keep = if keep {
                    !v.contains("close")
                } else {
                    v.contains("keep-alive")
                };
            }
        }
        // The body.
        let body = if chunked {
            loop {
                if let Some(end) = chunked_end(&self.buf[head_len..])? {
                    break head_len..head_len + end;
                }
                if read_more(s, &mut self.buf)? == 0 {
                    return Err("the answer ended inside a chunked body".into());
                }
            }
        } else if let Some(n) = length {
            let end = head_len + n;
            while self.buf.len() < end {
                if read_more(s, &mut self.buf)? == 0 {
                    return Err("the answer ended before its Content-Length".into());
                }
            }
            head_len..end
        } else {
            // Delimited by the end of the connection.
            keep = false;
            while read_more(s, &mut self.buf)? > 0 {}
            head_len..self.buf.len()
        };
        Ok(Answer {
            body,
            chunked,
            keep,
        })
    }

    fn fetch(&mut self) -> Result<&[u8], String> {
        let a = self.exchange().inspect_err(|_| self.conn = None)?;
        let raw = &self.buf[a.body];
        if !a.chunked {
            return Ok(raw);
        }
        self.chunks.clear();
        decode_chunks(raw, &mut self.chunks)?;
        Ok(&self.chunks)
    }
}

/// Reads what the socket has (up to 16 KiB) onto the end of `buf`.
fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, String> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match s.read(&mut chunk) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end (after the last chunk's trailer) of a chunked body, if all of it is in `body`.
fn chunked_end(body: &[u8]) -> Result<Option<usize>, String> {
    let mut at = 0;
    loop {
        let Some(eol) = find(&body[at..], b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&body[at..at + eol]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        at += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(eol) = find(&body[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

/// The data of a complete chunked body.
fn decode_chunks(body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut at = 0;
    loop {
        let eol = find(&body[at..], b"\r\n").ok_or("bad chunked body")?;
        let size_text = std::str::from_utf8(&body[at..at + eol]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        at += eol + 2;
        if size == 0 {
            return Ok(());
        }
        let data = body.get(at..at + size).ok_or("bad chunked body")?;
        out.extend_from_slice(data);
        at += size + 2;
    }
}

impl WorkSource for PrometheusSource {
    fn read(&mut self) -> Result<Reading, String> {
        let known = self.names.clone();
        let body = self.fetch()?;
        if let Some(n) = &known {
            return n.read_text(body);
        }
        let m = parse_exposition(&String::from_utf8_lossy(body));
        self.names = [MetricNames::vllm(), MetricNames::tgi()]
            .into_iter()
            .find(|n| n.present_in(&m));
        match &self.names {
            Some(n) => n.reading(&m),
            None => Err(
                "neither vLLM nor TGI metrics found; name the counters with --requests-metric \
                 and --tokens-metric"
                    .into(),
            ),
        }
    }

    fn describe(&self) -> String {
        match &self.names {
            Some(n) => format!("{} metrics at {}", n.flavour, self.url),
            None => format!("metrics at {}", self.url),
        }
    }
}

/// A server's work counter read once an interval: the work done since the last read, and what
/// the read says for the counts' completeness (see [`ecotrace_core::serving::CountHealth`]).
/// What `ecotrace serve`/`attach` and the node agent both read a server with.
pub struct ServerCounter {
    source: Box<dyn WorkSource>,
    follower: CounterFollower,
}

impl ServerCounter {
    /// `from_zero`: see [`CounterFollower::new`].
    pub fn new(source: Box<dyn WorkSource>, from_zero: bool) -> Self {
        ServerCounter {
            source,
            follower: CounterFollower::new(from_zero),
        }
    }

    /// Reads the counters once: the work done since the last good read (none when it failed).
    pub fn read(&mut self) -> (WorkCounts, SourceRead) {
        match self.source.read() {
            Ok(r) => {
                let resets = self.follower.resets;
                let work = self.follower.follow(&r);
                let read = SourceRead::Ok {
                    in_flight: r.in_flight,
                    reset: self.follower.resets > resets,
                };
                (work, read)
            }
            Err(_) => (WorkCounts::default(), SourceRead::Failed),
        }
    }

    /// What the counts come from (`vllm metrics at URL`).
    pub fn describe(&self) -> String {
        self.source.describe()
    }
}

/// Turns successive cumulative readings into the work done between them. A counter that went
/// down was reset (the server restarted): what it shows now was all done since.
#[derive(Debug, Clone, Default)]
pub struct CounterFollower {
    last: Option<[f64; 3]>,
    /// Fractions of a token carried to the next reading (histogram sums are floats).
    carry: [f64; 3],
    /// Resets seen so far.
    pub resets: u32,
}

impl CounterFollower {
    /// Counting from zero: the first reading's counters are all work done in the run (a server
    /// `ecotrace serve` started). Otherwise the first reading is the baseline (`attach`).
    pub fn new(from_zero: bool) -> Self {
        CounterFollower {
            last: from_zero.then_some([0.0; 3]),
            ..Default::default()
        }
    }

    pub fn follow(&mut self, r: &Reading) -> WorkCounts {
        let now = [
            r.requests,
            r.prompt_tokens.unwrap_or(0.0),
            r.generated_tokens.unwrap_or(0.0),
        ];
        let Some(last) = self.last.replace(now) else {
            return WorkCounts::default();
        };
        let mut reset = false;
        let mut out = [0u64; 3];
        for i in 0..3 {
            let d = if now[i] < last[i] {
                reset = true;
                now[i]
            } else {
                now[i] - last[i]
            } + self.carry[i];
            let whole = d.floor().max(0.0);
            self.carry[i] = d - whole;
            out[i] = whole as u64;
        }
        if reset {
            self.resets += 1;
        }
        WorkCounts {
            requests: out[0],
            prompt_tokens: out[1],
            generated_tokens: out[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = r#"# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{finished_reason="stop",model_name="m"} 7.0
vllm:request_success_total{finished_reason="length",model_name="m"} 3.0
vllm:prompt_tokens_total{model_name="m"} 1200.0
vllm:generation_tokens_total{model_name="m"} 640.0
vllm:num_requests_running{model_name="m"} 2.0
vllm:num_requests_waiting{model_name="m"} 1.0
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 10
"#;

    const TGI: &str = "# TYPE tgi_request_success counter\ntgi_request_success 4\n\
        tgi_request_input_length_sum 88\ntgi_request_input_length_count 4\n\
        tgi_request_generated_tokens_sum 100.0\ntgi_batch_current_size 0\ntgi_queue_size 0\n";

    #[test]
    fn parses_the_text_format_summing_labels() {
        let m = parse_exposition(VLLM);
        assert_eq!(m["vllm:request_success_total"], 10.0);
        assert_eq!(m["vllm:generation_tokens_total"], 640.0);
        let r = MetricNames::vllm().reading(&m).unwrap();
        assert_eq!(r.in_flight, Some(3.0));
        assert_eq!(r.prompt_tokens, Some(1200.0));
        let t = MetricNames::tgi().reading(&parse_exposition(TGI)).unwrap();
        assert_eq!(
            (t.requests, t.prompt_tokens, t.generated_tokens, t.in_flight),
            (4.0, Some(88.0), Some(100.0), Some(0.0))
        );
        assert!(MetricNames::tgi().present_in(&parse_exposition(TGI)));
        assert!(!MetricNames::vllm().present_in(&parse_exposition(TGI)));
    }

    #[test]
    fn follows_counters_across_a_reset() {
        let r = |req: f64, gen: f64| Reading {
            requests: req,
            generated_tokens: Some(gen),
            ..Default::default()
        };
        let mut f = CounterFollower::new(true);
        assert_eq!(f.follow(&r(5.0, 50.0)).requests, 5);
        let w = f.follow(&r(8.0, 80.5));
        assert_eq!((w.requests, w.generated_tokens), (3, 30));
        // Restarted: 2 requests since.
        let w = f.follow(&r(2.0, 20.0));
        assert_eq!((w.requests, w.generated_tokens), (2, 20));
        assert_eq!(f.resets, 1);
        // The half token carried earlier is not lost.
        assert_eq!(f.follow(&r(2.0, 20.5)).generated_tokens, 1);
        // Attaching: the first reading is a baseline.
        let mut a = CounterFollower::new(false);
        assert!(a.follow(&r(100.0, 1000.0)).is_zero());
        assert_eq!(a.follow(&r(101.0, 1010.0)).requests, 1);
    }

    /// A loopback server answering each request of each connection with `answer(n)` (n counts
    /// the requests over all connections), closing a connection after `per_conn` answers; the
    /// number of connections it accepted.
    fn serve(
        per_conn: usize,
        answer: impl Fn(usize) -> String + Send + 'static,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::BufRead;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/metrics", l.local_addr().unwrap());
        let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = conns.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut r = std::io::BufReader::new(s.try_clone().unwrap());
                for _ in 0..per_conn {
                    // The request: lines up to an empty one.
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            break;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if line != "\r\n" {
                        break;
                    }
                    n += 1;
                    if s.write_all(answer(n).as_bytes()).is_err() {
                        break;
                    }
                }
            }
        });
        (url, conns)
    }

    fn vllm_body(requests: usize) -> String {
        format!("# TYPE x counter\nvllm:request_success_total{{a=\"b\"}} {requests}\nvllm:generation_tokens_total 7\nvllm:num_requests_running 1\n")
    }

    fn source(url: &str) -> PrometheusSource {
        PrometheusSource::new(url, None, Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn one_connection_is_kept_for_every_read() {
        let (url, conns) = serve(usize::MAX, |n| {
            let b = vllm_body(n);
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )
        });
        let mut s = source(&url);
        for n in 1..=5 {
            let r = s.read().unwrap();
            assert_eq!(
                (r.requests, r.generated_tokens, r.in_flight),
                (n as f64, Some(7.0), Some(1.0))
            );
        }
        assert_eq!(s.describe(), format!("vllm metrics at {url}"));
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn chunked_answers_and_closed_connections_are_read() {
        // Chunked (as from an ASGI server), the connection closed after each answer.
        let (url, conns) = serve(1, |n| {
            let b = vllm_body(n);
            let (a, c) = b.split_at(10);
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{c}\r\n0\r\n\r\n",
                a.len(),
                c.len()
            )
        });
        let mut s = source(&url);
        assert_eq!(s.read().unwrap().requests, 1.0);
        assert_eq!(s.read().unwrap().requests, 2.0);
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 2);
        // HTTP/1.0 without a length: the body ends with the connection.
        let (url, _) = serve(1, |n| format!("HTTP/1.0 200 OK\r\n\r\n{}", vllm_body(n)));
        let mut s = source(&url);
        assert_eq!(s.read().unwrap().requests, 1.0);
        assert_eq!(s.read().unwrap().requests, 2.0);
    }

    #[test]
    fn a_kept_connection_the_server_dropped_is_opened_again() {
        // Keep-alive promised, but each connection answers twice and is closed (as a server
        // closes idle connections): the third read goes out on a new one, and succeeds.
        let (url, conns) = serve(2, |n| {
            let b = vllm_body(n);
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len())
        });
        let mut s = source(&url);
        for n in 1..=5 {
            assert_eq!(s.read().unwrap().requests, n as f64);
        }
        assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 3);
        // An error status is an error, and the next read works.
        let (url, _) = serve(usize::MAX, |n| {
            if n == 1 {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\n\r\noff".into()
            } else {
                let b = vllm_body(n);
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len())
            }
        });
        let mut s = source(&url);
        assert!(s.read().unwrap_err().contains("503"));
        assert_eq!(s.read().unwrap().requests, 2.0);
    }

    #[test]
    fn urls_are_checked() {
        let u = parse_url("http://127.0.0.1:8000/metrics").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8000, "/metrics")
        );
        assert_eq!(parse_url("http://localhost").unwrap().path, "/metrics");
        assert!(parse_url("https://x/metrics").is_err());
        assert!(parse_url("http://:80/").is_err());
    }
}
