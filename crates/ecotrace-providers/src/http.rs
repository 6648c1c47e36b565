//! The one place that talks to the network: GET with headers, within a time limit, the status,
//! `Retry-After` and body returned as they are (the caller classifies them).

use std::io::Read;
use std::time::Duration;

use crate::{ProviderError, BUDGET};

/// What a provider answered.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after_s: Option<u64>,
    pub body: String,
}

/// An agent that reports every status (4xx and 5xx too) and, for a loopback base URL, uses no
/// proxy from the environment.
pub(crate) fn agent(base_url: &str) -> ureq::Agent {
    let loopback = ["http://127.", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| base_url.starts_with(p));
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(BUDGET))
        .user_agent(concat!("ecotrace/", env!("CARGO_PKG_VERSION")));
    if loopback {
        b = b.proxy(None);
    }
    b.build().into()
}

/// The largest body read (a forecast of a few days is tens of kB).
const MAX_BODY: u64 = 8 * 1024 * 1024;

/// GET `url` with `headers`, giving up after `limit` (at most [`BUDGET`]).
pub(crate) fn get(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&'static str, String)],
    limit: Duration,
) -> Result<Answer, ProviderError> {
    let limit = limit.min(BUDGET);
    if limit.is_zero() {
        return Err(ProviderError::Timeout {
            ms: BUDGET.as_millis(),
        });
    }
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = req.config().timeout_global(Some(limit)).build().call();
    let mut res = match res {
        Ok(r) => r,
        Err(e) => return Err(classify(url, e)),
    };
    let status = res.status().as_u16();
    let retry_after_s = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = String::new();
    res.body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_string(&mut body)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                ProviderError::Timeout {
                    ms: BUDGET.as_millis(),
                }
            }
            _ => ProviderError::Network {
                url: redact(url),
                detail: e.to_string(),
            },
        })?;
    Ok(Answer {
        status,
        retry_after_s,
        body,
    })
}

fn classify(url: &str, e: ureq::Error) -> ProviderError {
    match e {
        ureq::Error::Timeout(_) => ProviderError::Timeout {
            ms: BUDGET.as_millis(),
        },
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ProviderError::Timeout {
                ms: BUDGET.as_millis(),
            }
        }
        other => ProviderError::Network {
            url: redact(url),
            detail: other.to_string(),
        },
    }
}

/// The URL without its query (no key is ever in one, but zones and times need not be shown).
fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// The start of a body, on one line, for an error message.
pub(crate) fn short(body: &str) -> String {
    let one: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 160 {
        format!("{}…", one.chars().take(160).collect::<String>())
    } else {
        one
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Standard base64 with padding (HTTP basic authentication).
pub(crate) fn base64(s: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut o = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(base64("user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64("ab"), "YWI=");
        assert_eq!(base64("a"), "YQ==");
        assert_eq!(encode("2022-07-01T00:00Z"), "2022-07-01T00%3A00Z");
        assert_eq!(encode("US-CAL-CISO"), "US-CAL-CISO");
        assert_eq!(redact("http://h/v3/x?zone=FR"), "http://h/v3/x");
        assert_eq!(short("{\n  \"error\": \"no\"\n}"), "{ \"error\": \"no\" }");
    }
}
