//! The on-disk cache of provider answers: one file per URL (`PROVIDER-HASH.json`: the fetch
//! time in Unix seconds on the first line, the body after it), used while younger than its
//! time-to-live, and one `PROVIDER.backoff` file holding the time until which a provider that
//! answered 429 with `Retry-After` is not asked. Failing to read or write the cache is never an
//! error: the answer is then just not cached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

pub struct Cache {
    dir: PathBuf,
    provider: &'static str,
}

/// FNV-1a, 64 bits: a stable file name for a URL.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Cache {
    pub fn new(dir: &Path, provider: &'static str) -> Self {
        Cache {
            dir: dir.to_path_buf(),
            provider,
        }
    }

    fn path(&self, url: &str) -> PathBuf {
        self.dir
            .join(format!("{}-{:016x}.json", self.provider, fnv(url)))
    }

    /// The cached body of `url` and when it was fetched, if younger than `ttl`.
    pub fn get(&self, url: &str, ttl: Duration) -> Option<(String, DateTime<Utc>)> {
        let text = std::fs::read_to_string(self.path(url)).ok()?;
        let (head, body) = text.split_once('\n')?;
        let (secs, cached_url) = head.split_once(' ')?;
        if cached_url != url {
            return None;
        }
        let at = Utc.timestamp_opt(secs.parse().ok()?, 0).single()?;
        let age = Utc::now() - at;
        (age >= chrono::Duration::zero() && age.to_std().ok()? < ttl)
            .then(|| (body.to_string(), at))
    }

    /// Stores `body` as the answer for `url`, now (written to a temporary file, then renamed).
    pub fn put(&self, url: &str, body: &str) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let p = self.path(url);
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        let text = format!("{} {url}\n{body}", Utc::now().timestamp());
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &p);
        }
    }

    fn backoff_path(&self) -> PathBuf {
        self.dir.join(format!("{}.backoff", self.provider))
    }

    /// Until when the provider asked not to be asked, if that is still ahead.
    pub fn backoff_until(&self) -> Option<DateTime<Utc>> {
        let text = std::fs::read_to_string(self.backoff_path()).ok()?;
        let t = Utc.timestamp_opt(text.trim().parse().ok()?, 0).single()?;
        (t > Utc::now()).then_some(t)
    }

    pub fn set_backoff(&self, until: DateTime<Utc>) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = std::fs::write(self.backoff_path(), until.timestamp().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_answers_are_reused_and_stale_or_other_ones_are_not() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::new(d.path(), "ukci");
        assert!(c.get("http://x/a", Duration::from_secs(60)).is_none());
        c.put("http://x/a", "{\"data\":[]}\nsecond line");
        let (body, _) = c.get("http://x/a", Duration::from_secs(60)).unwrap();
        assert_eq!(body, "{\"data\":[]}\nsecond line");
        assert!(c.get("http://x/a", Duration::ZERO).is_none());
        assert!(c.get("http://x/b", Duration::from_secs(60)).is_none());
        assert!(c.backoff_until().is_none());
        c.set_backoff(Utc::now() + chrono::Duration::seconds(60));
        assert!(c.backoff_until().is_some());
        c.set_backoff(Utc::now() - chrono::Duration::seconds(1));
        assert!(c.backoff_until().is_none());
    }
}
