//! Text helpers shared by the renderers: number, duration and time formatting, escaping for
//! terminals, Markdown and CSV, and shell-style quoting of commands.
//!
//! Everything here is a pure `&str`/number → `String` function. Nothing here knows about records
//! or decides what a report contains.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};

// The one number formatter of human-facing output is the core's (`ecotrace_core::human`).
pub(crate) use ecotrace_core::human::{num, sig};

/// Significant digits kept in machine output (CSV, report JSON): far beyond any measurement's
/// precision, but short of the noise of binary sums (`0.12989511250000002` → `0.1298951125`).
pub(crate) const MACHINE_SIG: usize = 12;

/// `x` rounded to [`MACHINE_SIG`] significant digits (decimal rounding); non-finite unchanged.
pub(crate) fn machine(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{:.*e}", MACHINE_SIG - 1, x).parse().unwrap_or(x)
}

/// Plain number for CSV: [`machine`] precision, shortest form, never in scientific notation;
/// empty for non-finite values (an empty CSV cell means "unknown").
pub(crate) fn plain(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let x = machine(x);
    if x == 0.0 {
        // Also turns -0 into 0.
        "0".to_string()
    } else {
        // Rust's `Display` for f64 never uses an exponent.
        x.to_string()
    }
}

/// Power in watts for humans: one decimal from 0.1 W up (`142.3 W`), significant digits below.
pub(crate) fn watts(w: f64) -> String {
    if !w.is_finite() {
        return "n/a W".to_string();
    }
    if w == 0.0 || w.abs() >= 0.1 {
        format!("{w:.1} W")
    } else {
        format!("{} W", sig(w, 2))
    }
}

/// Number part of [`watts`] (no unit), for table columns whose header names the unit.
pub(crate) fn watts_value(w: f64) -> String {
    let s = watts(w);
    s.trim_end_matches(" W").to_string()
}

/// Energy (given in kWh) for humans, scaled: `12.0 mWh`, `3.21 Wh`, `1.50 kWh`, `2.50 MWh`.
pub(crate) fn energy(kwh: f64) -> String {
    ecotrace_core::human::energy(kwh).to_string()
}

/// CO2e (given in kg) for humans, scaled: `64.1 mgCO2e`, `1.52 gCO2e`, `3.40 kgCO2e`, `1.20 tCO2e`.
pub(crate) fn co2(kg: f64) -> String {
    ecotrace_core::human::co2(kg).to_string()
}

/// Water (given in litres) for humans, scaled: `420 mL`, `1.20 L`, `3.40 m³`.
pub(crate) fn water(litres: f64) -> String {
    ecotrace_core::human::water(litres).to_string()
}

/// Compact duration: `0s`, `4.2s`, `4m05s`, `1h02m03s`.
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s == 0.0 {
        return "0s".to_string();
    }
    if s < 59.95 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else {
        format!("{m}m{sec:02}s")
    }
}

/// Clock form for the live line: `00:01:23` (hours grow past 99 if they must).
pub(crate) fn clock(d: Duration) -> String {
    let t = d.as_secs();
    format!("{:02}:{:02}:{:02}", t / 3600, (t % 3600) / 60, t % 60)
}

/// UTC minute: `2024-05-01 12:34`.
pub(crate) fn utc_minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// UTC second with the zone written: `2024-05-01 12:34:56 UTC`.
pub(crate) fn utc_second(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// RFC 3339 in UTC with a `Z`, sub-seconds only when present: `2024-05-01T12:34:56Z`.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The first 8 characters of a run id, as shown in lists.
pub(crate) fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Makes text safe for one line of terminal output: control characters (newlines, tabs, ESC and
/// the rest of C0/C1, DEL) are written as visible escapes (`\n`, `\t`, `\u{1b}`).
pub(crate) fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a GitHub Markdown table cell: [`inline`], then `\` and `|` backslashed so a
/// value cannot end its cell, and `<`/`>` as entities so it cannot open HTML.
pub(crate) fn markdown_cell(s: &str) -> String {
    let mut out = String::new();
    for c in inline(s).chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// One CSV field per RFC 4180: quoted when it holds a comma, a double quote, CR or LF (or starts or
/// ends with a space), with inner quotes doubled. The value itself is never altered.
pub(crate) fn csv_field(s: &str) -> String {
    let needs = s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ');
    if needs {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV record (no line terminator).
pub(crate) fn csv_row<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Escapes `\`, `;` and `=` with a backslash, for lists packed into one field (`k=v;k=v`).
pub(crate) fn list_item(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A command line as a shell would need it typed: plain words as they are, anything else in single
/// quotes. For display only.
pub(crate) fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars().all(|c| {
                    c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c) || !c.is_ascii()
                });
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cuts `s` to at most `max` characters, ending in `...` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = s.chars().take(keep).collect();
    out.push_str("...");
    out
}

/// Display width of a string, counted in characters.
pub(crate) fn width(s: &str) -> usize {
    s.chars().count()
}

/// Appends `first` followed by `text`, wrapped at `max` columns on spaces (the first word too may
/// go to the next line if it does not fit after `first`); continuation lines start with `indent`
/// spaces. Runs of spaces inside a line are kept (they align columns); the
/// spaces at a break are dropped. A single word longer than the line is left whole.
pub(crate) fn push_wrapped(out: &mut String, first: &str, text: &str, indent: usize, max: usize) {
    // (spaces before the word, the word)
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut spaces = 0;
    for w in text.split(' ') {
        if w.is_empty() {
            spaces += 1;
        } else {
            words.push((spaces, w));
            spaces = 1;
        }
    }
    let mut line = first.to_string();
    // Whether the line holds nothing but indentation (a word always goes on such a line). A
    // non-blank `first` carries its own separator: the first word follows it directly.
    let mut at_start = first.trim().is_empty();
    for (sp, word) in words {
        if !at_start && width(&line) + sp + width(word) > max {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
        } else if !at_start {
            line.push_str(&" ".repeat(sp));
        }
        line.push_str(word);
        at_start = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A signal by its usual Linux name (`SIGINT`), or `signal 42` when it has none here.
pub(crate) fn signal(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("signal {n}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_round_trip() {
        assert_eq!(plain(0.000123), "0.000123");
        assert_eq!(plain(3723.0), "3723");
        assert_eq!(plain(1e-10), "0.0000000001");
        assert_eq!(plain(f64::INFINITY), "");
        assert_eq!(plain(0.12989511250000002), "0.1298951125");
        assert_eq!(plain(1.0 / 3.0), "0.333333333333");
        assert_eq!(plain(-0.0), "0");
        assert_eq!(machine(0.884033203125), 0.884033203125);
    }

    #[test]
    fn scaled_units() {
        assert_eq!(energy(0.00321), "3.21 Wh");
        assert_eq!(energy(1.5), "1.50 kWh");
        assert_eq!(co2(0.0000000641), "0.0641 mgCO2e");
        assert_eq!(co2(3.4), "3.40 kgCO2e");
        assert_eq!(water(0.5), "500 mL");
        assert_eq!(watts(142.34), "142.3 W");
        assert_eq!(watts(0.0), "0.0 W");
        assert_eq!(watts(0.0512), "0.051 W");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(duration(Duration::from_secs(3723)), "1h02m03s");
        assert_eq!(duration(Duration::from_millis(59_990)), "1m00s");
        assert_eq!(clock(Duration::from_secs(83)), "00:01:23");
        assert_eq!(clock(Duration::from_secs(360_000)), "100:00:00");
    }

    #[test]
    fn escaping() {
        assert_eq!(inline("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
        assert_eq!(markdown_cell("a|b<i>"), "a\\|b&lt;i&gt;");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        assert_eq!(csv_field(""), "");
        assert_eq!(list_item("a=b;c\\"), "a\\=b\\;c\\\\");
    }

    #[test]
    fn shell_quoting() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shell_join(&a(&["python", "train.py", "--lr=0.1"])),
            "python train.py --lr=0.1"
        );
        assert_eq!(
            shell_join(&a(&["echo", "it's here", ""])),
            "echo 'it'\\''s here' ''"
        );
    }

    #[test]
    fn wrapping() {
        let mut out = String::new();
        push_wrapped(&mut out, "note: ", "aaa bbb ccc ddd", 6, 14);
        assert_eq!(out, "note: aaa bbb\n      ccc ddd\n");
        let mut out = String::new();
        push_wrapped(&mut out, "x ", "a  b   c", 2, 80);
        assert_eq!(out, "x a  b   c\n");
        let mut out = String::new();
        push_wrapped(&mut out, "long line ", "(word)", 2, 12);
        assert_eq!(out, "long line\n  (word)\n");
        assert_eq!(truncate("abcdefgh", 6), "abc...");
        assert_eq!(truncate("abc", 6), "abc");
    }
}
