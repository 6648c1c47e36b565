//! Named windows inside a run: opened and closed from Python (`tracker.window("eval")`) or by
//! any program through lines appended to the file named in `$ECOTRACE_WINDOWS` (protocol in
//! `docs/serving.md`). Each open window collects the energy the meter measures while it is open,
//! at the sampling resolution.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use ecotrace_core::serving::{Window, WorkCounts};
use ecotrace_core::{CarbonMass, EnergyBreakdown};

/// The environment variable naming the windows file of the run a command is part of.
pub const WINDOWS_ENV: &str = "ECOTRACE_WINDOWS";

/// At most this many windows are listed in a record; later ones are counted, not listed.
pub const MAX_WINDOWS: usize = 10_000;

/// The windows of a run.
#[derive(Debug, Default)]
pub struct Windows {
    pub list: Vec<Window>,
    /// Indices in `list` of the windows open now, outermost first.
    open: Vec<usize>,
    /// Windows not listed because the list was full.
    pub dropped: u64,
}

impl Windows {
    pub fn start(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("a window needs a name".into());
        }
        if self.list.len() >= MAX_WINDOWS {
            self.dropped += 1;
            return Ok(());
        }
        self.open.push(self.list.len());
        self.list.push(Window {
            name: name.to_string(),
            started_at: at,
            ended_at: None,
            depth: self.open.len() as u32 - 1,
            energy_kwh: EnergyBreakdown::default(),
            operational: CarbonMass::ZERO,
        });
        Ok(())
    }

    /// Closes the innermost open window of that name.
    pub fn end(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), String> {
        let name = name.trim();
        match self.open.iter().rposition(|&i| self.list[i].name == name) {
            Some(k) => {
                let i = self.open.remove(k);
                self.list[i].ended_at = Some(at.max(self.list[i].started_at));
                Ok(())
            }
            None if self.dropped > 0 => Ok(()),
            None => Err(format!("no window {name:?} is open")),
        }
    }

    /// Adds energy measured in the interval that just ended to every open window.
    pub fn add(&mut self, d: EnergyBreakdown) {
        for &i in &self.open {
            let e = &mut self.list[i].energy_kwh;
            e.cpu += d.cpu;
            e.gpu += d.gpu;
            e.ram += d.ram;
            e.total += d.total;
        }
    }
}

/// One line of the windows protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Start(String, Option<DateTime<Utc>>),
    End(String, Option<DateTime<Utc>>),
    Count(WorkCounts),
}

/// Parses one protocol line: `start NAME [@UNIX_SECONDS]`, `end NAME [@UNIX_SECONDS]`, or
/// `count [requests=N] [prompt_tokens=N] [generated_tokens=N]`.
pub fn parse_line(line: &str) -> Result<Line, String> {
    let line = line.trim();
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let named = |rest: &str| -> Result<(String, Option<DateTime<Utc>>), String> {
        let (name, at) = match rest.rsplit_once(char::is_whitespace) {
            Some((n, t)) if t.starts_with('@') => (n.trim(), Some(t)),
            _ if rest.starts_with('@') => ("", Some(rest)),
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(format!("{verb} needs a window name"));
        }
        let at = match at {
            None => None,
            Some(t) => {
                let secs: f64 = t[1..]
                    .parse()
                    .map_err(|_| format!("bad time {t:?}: expected @UNIX_SECONDS"))?;
                Some(
                    Utc.timestamp_opt(secs.floor() as i64, (secs.fract() * 1e9) as u32)
                        .single()
                        .ok_or_else(|| format!("bad time {t:?}"))?,
                )
            }
        };
        Ok((name.to_string(), at))
    };
    match verb {
        "start" => named(rest).map(|(n, t)| Line::Start(n, t)),
        "end" => named(rest).map(|(n, t)| Line::End(n, t)),
        "count" => {
            let mut c = WorkCounts::default();
            for kv in rest.split_whitespace() {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("count: {kv:?} is not KEY=N"))?;
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("count: {v:?} is not a whole number"))?;
                match k {
                    "requests" => c.requests += n,
                    "prompt_tokens" => c.prompt_tokens += n,
                    "generated_tokens" | "tokens" => c.generated_tokens += n,
                    _ => return Err(format!("count: unknown key {k:?}")),
                }
            }
            Ok(Line::Count(c))
        }
        _ => Err(format!(
            "unknown line {line:?}: expected start NAME, end NAME or count KEY=N..."
        )),
    }
}

/// The windows file of a run: created empty for the wrapped command to append lines to, read
/// from where it was last read at each sampling interval, removed at the end.
pub struct WindowFile {
    path: PathBuf,
    file: File,
    offset: u64,
    partial: String,
    buf: Vec<u8>,
}

impl WindowFile {
    /// Creates the file (readable and writable by this user only).
    pub fn create(dir: &Path, run_id: &str) -> std::io::Result<WindowFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(format!("ecotrace-{run_id}.windows"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(WindowFile {
            path,
            file,
            offset: 0,
            partial: String::new(),
            buf: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete lines appended since the last call (cheap when nothing was: one `fstat`).
    pub fn poll(&mut self) -> Vec<String> {
        let len = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        if len <= self.offset {
            return Vec::new();
        }
        self.buf.clear();
        let read = self.file.seek(SeekFrom::Start(self.offset)).and_then(|_| {
            (&self.file)
                .take(len - self.offset)
                .read_to_end(&mut self.buf)
        });
        if read.is_err() {
            return Vec::new();
        }
        self.offset += self.buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&self.buf));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_string).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines.retain(|l| !l.trim().is_empty());
        lines
    }
}

impl Drop for WindowFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::Energy;

    #[test]
    fn windows_nest_repeat_and_collect_energy() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let e = |j: f64| EnergyBreakdown {
            cpu: Energy::from_joules(j),
            total: Energy::from_joules(j),
            ..Default::default()
        };
        let mut w = Windows::default();
        w.start("eval", t(0)).unwrap();
        w.add(e(10.0));
        w.start("eval", t(1)).unwrap();
        w.add(e(5.0));
        w.end("eval", t(2)).unwrap();
        w.add(e(1.0));
        w.end("eval", t(3)).unwrap();
        w.add(e(100.0));
        assert_eq!(w.list.len(), 2);
        assert_eq!(w.list[0].energy_kwh.total.joules(), 16.0);
        assert_eq!(w.list[1].energy_kwh.total.joules(), 5.0);
        assert_eq!(w.list[1].depth, 1);
        assert_eq!(w.list[0].ended_at, Some(t(3)));
        assert!(w.end("eval", t(4)).is_err());
        assert!(w.start(" ", t(4)).is_err());
    }

    #[test]
    fn protocol_lines_parse() {
        assert_eq!(
            parse_line("start data loading").unwrap(),
            Line::Start("data loading".into(), None)
        );
        match parse_line("end eval @1700000000.5").unwrap() {
            Line::End(n, Some(t)) => {
                assert_eq!(n, "eval");
                assert_eq!(t.timestamp_millis(), 1_700_000_000_500);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_line("count requests=1 generated_tokens=20").unwrap(),
            Line::Count(WorkCounts {
                requests: 1,
                prompt_tokens: 0,
                generated_tokens: 20
            })
        );
        assert!(parse_line("start").is_err());
        assert!(parse_line("count requests=x").is_err());
        assert!(parse_line("open eval").is_err());
    }

    #[test]
    fn the_file_yields_complete_lines_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = WindowFile::create(dir.path(), "r1").unwrap();
        let path = f.path().to_path_buf();
        let append = |s: &str| {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            w.write_all(s.as_bytes()).unwrap();
        };
        assert!(f.poll().is_empty());
        append("start a\nend ");
        assert_eq!(f.poll(), vec!["start a"]);
        append("a\n");
        assert_eq!(f.poll(), vec!["end a"]);
        assert!(f.poll().is_empty());
        drop(f);
        assert!(!path.exists());
    }
}
