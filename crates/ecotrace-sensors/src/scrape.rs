//! Counting a model server's work from its Prometheus endpoint: a [`WorkSource`] reads the
//! server's cumulative counters (requests, prompt tokens, generated tokens) and its in-flight
//! gauges; [`CounterFollower`] turns successive readings into the work done between them, across
//! server restarts (counter resets).
//!
//! vLLM and Hugging Face TGI are recognised from their metric names; any other server is read
//! through the names the user gives (`--requests-metric`, `--tokens-metric`,
//! `--prompt-tokens-metric`). The HTTP client is a minimal HTTP/1.0 GET over a TCP stream
//! (Prometheus endpoints are plain HTTP, usually on loopback); it never blocks longer than its
//! timeout.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ecotrace_core::serving::WorkCounts;

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

    fn present_in(&self, m: &BTreeMap<String, f64>) -> bool {
        m.contains_key(&self.requests)
            || self
                .generated_tokens
                .as_ref()
                .is_some_and(|n| m.contains_key(n))
    }

    fn reading(&self, m: &BTreeMap<String, f64>) -> Result<Reading, String> {
        let requests = *m.get(&self.requests).ok_or_else(|| {
            format!(
                "metric {} is not exposed (yet: a counter may appear with the first request)",
                self.requests
            )
        })?;
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
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ', '\t']) {
            Some(i) if line.as_bytes()[i] == b'{' => match line.rfind('}') {
                Some(j) if j > i => (&line[..i], &line[j + 1..]),
                _ => continue,
            },
            Some(i) => (&line[..i], &line[i..]),
            None => continue,
        };
        let Some(v) = rest.split_whitespace().next() else {
            continue;
        };
        let v = match v {
            "+Inf" | "-Inf" | "NaN" => continue,
            v => match v.parse::<f64>() {
                Ok(x) if x.is_finite() => x,
                _ => continue,
            },
        };
        *out.entry(name.to_string()).or_insert(0.0) += v;
    }
    out
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
    body: Vec<u8>,
}

impl PrometheusSource {
    /// `names` None: recognise vLLM or TGI from the metrics themselves.
    pub fn new(url: &str, names: Option<MetricNames>, timeout: Duration) -> Result<Self, BadUrl> {
        Ok(PrometheusSource {
            url: url.to_string(),
            target: parse_url(url)?,
            names,
            timeout,
            body: Vec::with_capacity(16 * 1024),
        })
    }

    fn fetch(&mut self) -> Result<String, String> {
        let t = &self.target;
        let addr = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
            .next()
            .ok_or_else(|| format!("no address for {}", t.host))?;
        let mut s = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(self.timeout))
            .and_then(|()| s.set_write_timeout(Some(self.timeout)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "GET {} HTTP/1.0\r\nHost: {}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n",
            t.path, t.host
        )
        .map_err(|e| e.to_string())?;
        self.body.clear();
        s.read_to_end(&mut self.body).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&self.body);
        let (head, body) = text.split_once("\r\n\r\n").ok_or("not an HTTP answer")?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(format!("HTTP {}", head.lines().next().unwrap_or_default()));
        }
        Ok(body.to_string())
    }
}

impl WorkSource for PrometheusSource {
    fn read(&mut self) -> Result<Reading, String> {
        let body = self.fetch()?;
        let m = parse_exposition(&body);
        if self.names.is_none() {
            self.names = [MetricNames::vllm(), MetricNames::tgi()]
                .into_iter()
                .find(|n| n.present_in(&m));
        }
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
