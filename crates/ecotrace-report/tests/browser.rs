//! The HTML reports in a real browser: headless Chromium loads each page and must log nothing to
//! its console (no script error, no blocked request: the pages' Content-Security-Policy turns any
//! attempt to fetch something into a console error), and a screenshot must show the charts (many
//! colours, the chart colours among them, not a blank page), on a desktop and a phone-sized window;
//! printing to PDF must work. Deliberately broken pages prove the checks catch what they claim to.
//!
//! Needs `chromium` (Debian's package; `scripts/test` installs it). Without it every test here
//! says `skipped: ...` on stderr and passes. `ECOTRACE_CHROMIUM` names another binary;
//! `ECOTRACE_KEEP_PAGES=DIR` keeps the pages and screenshots there for a look.

mod common;
mod fixtures;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ecotrace_report::*;

/// The browser binary, or `None` (after saying so) when there is none.
fn chromium(test: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("ECOTRACE_CHROMIUM")
        .map(|p| vec![PathBuf::from(p)])
        .unwrap_or_else(|| {
            [
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ]
            .iter()
            .map(PathBuf::from)
            .collect()
        });
    for c in candidates {
        let found = if c.components().count() > 1 {
            c.is_file().then_some(c)
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(&c))
                    .find(|p| p.is_file())
            })
        };
        if found.is_some() {
            return found;
        }
    }
    // Written straight to stderr so that it shows even though the test passes.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test}: no chromium found (install Debian's `chromium` package, as scripts/test does, or set ECOTRACE_CHROMIUM)"
    );
    None
}

struct Browser {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// What one browser run left: its stderr (the console log) and stdout (the DOM, for --dump-dom).
struct Run {
    stdout: String,
    stderr: String,
}

impl Browser {
    fn new(bin: PathBuf) -> Self {
        Browser {
            bin,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, html: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, html).unwrap();
        if let Some(keep) = std::env::var_os("ECOTRACE_KEEP_PAGES") {
            let _ = std::fs::create_dir_all(&keep);
            let _ = std::fs::write(Path::new(&keep).join(name), html);
        }
        p
    }

    /// Runs headless Chromium on `page` with `extra` arguments, as root-safe and offline as it
    /// gets: a fresh profile each time, no background networking (without it Chromium stalls on
    /// refused connections), and a time limit.
    fn run(&self, page: &Path, extra: &[String]) -> Run {
        let profile = tempfile::tempdir_in(self.dir.path()).unwrap();
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-extensions",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let (out, err) = (read(Box::new(out)), read(Box::new(err)));
        let t0 = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if t0.elapsed() > Duration::from_secs(90) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s on {}", page.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Run {
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }

    /// Console messages the page produced (errors, CSP violations, anything a page logs).
    /// Chromium writes them to stderr as `...:INFO:CONSOLE:12] "message", source: ...`
    /// (older versions: `CONSOLE(12)`).
    fn console(&self, page: &Path) -> (Vec<String>, String) {
        let r = self.run(page, &["--dump-dom".to_string()]);
        let msgs = r
            .stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .map(str::to_string)
            .collect();
        (msgs, r.stdout)
    }

    /// A screenshot of `page` in a window of `w` × `h`, decoded: (width, height, RGBA bytes).
    fn screenshot(&self, page: &Path, w: u32, h: u32) -> (u32, u32, Vec<u8>) {
        let name = format!(
            "{}-{w}x{h}.png",
            page.file_stem().unwrap().to_string_lossy()
        );
        let shot = self.dir.path().join(&name);
        self.run(
            page,
            &[
                format!("--screenshot={}", shot.display()),
                format!("--window-size={w},{h}"),
            ],
        );
        if let Some(keep) = std::env::var_os("ECOTRACE_KEEP_PAGES") {
            let _ = std::fs::copy(&shot, Path::new(&keep).join(&name));
        }
        let decoder =
            png::Decoder::new(std::fs::File::open(&shot).expect("a screenshot was written"));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let rgba: Vec<u8> = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        (info.width, info.height, rgba)
    }
}

/// What a screenshot shows: distinct colours, the share of non-white pixels, and how many pixels
/// are close to each of `colours`.
struct Picture {
    distinct: usize,
    non_white: f64,
    near: Vec<usize>,
}

fn look(rgba: &[u8], colours: &[[u8; 3]]) -> Picture {
    let mut seen = std::collections::HashSet::new();
    let mut non_white = 0usize;
    let mut near = vec![0usize; colours.len()];
    let n = rgba.len() / 4;
    for p in rgba.chunks(4) {
        seen.insert([p[0], p[1], p[2]]);
        if p[0] < 245 || p[1] < 245 || p[2] < 245 {
            non_white += 1;
        }
        for (i, c) in colours.iter().enumerate() {
            let d: i32 = (0..3).map(|k| (p[k] as i32 - c[k] as i32).abs()).sum();
            if d < 40 {
                near[i] += 1;
            }
        }
    }
    Picture {
        distinct: seen.len(),
        non_white: non_white as f64 / n.max(1) as f64,
        near,
    }
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

#[test]
fn the_checks_catch_broken_pages() {
    let Some(bin) = chromium("the_checks_catch_broken_pages") else {
        return;
    };
    let b = Browser::new(bin);
    // A script error.
    let p = b.write(
        "broken-script.html",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><p>x</p><script>undefinedFunction();</script></body></html>",
    );
    let (msgs, _) = b.console(&p);
    assert!(
        msgs.iter().any(|m| m.contains("undefinedFunction")),
        "a script error went unseen: {msgs:?}"
    );
    // A page with our policy that tries to load something from the network.
    let html = run_html(&common::finished(), &common::samples()).replace(
        "<main>",
        "<main><img src=\"http://example.invalid/tracker.png\" alt=\"\">",
    );
    let p = b.write("broken-fetch.html", &html);
    let (msgs, _) = b.console(&p);
    assert!(
        msgs.iter().any(|m| m.contains("Content Security Policy")),
        "a blocked fetch went unseen: {msgs:?}"
    );
    // A blank page fails the screenshot check.
    let p = b.write(
        "blank.html",
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>",
    );
    let (_, _, rgba) = b.screenshot(&p, 800, 600);
    let pic = look(&rgba, &[]);
    assert!(
        pic.distinct <= 2 && pic.non_white < 0.001,
        "a blank page looked drawn"
    );
}

fn check_page(b: &Browser, name: &str, html: &str, chart_colours: &[&str]) {
    let p = b.write(name, html);
    let (msgs, dom) = b.console(&p);
    assert!(msgs.is_empty(), "{name}: console messages: {msgs:#?}");
    assert!(dom.contains("</svg>"), "{name}: no chart in the loaded DOM");
    let colours: Vec<[u8; 3]> = chart_colours.iter().map(|c| hex(c)).collect();
    for (w, h) in [(1280, 2400), (390, 2400)] {
        let (sw, sh, rgba) = b.screenshot(&p, w, h);
        assert_eq!((sw, sh), (w, h), "{name}: screenshot size");
        let pic = look(&rgba, &colours);
        assert!(
            pic.distinct > 50,
            "{name} {w}x{h}: {} colours",
            pic.distinct
        );
        assert!(
            pic.non_white > 0.03,
            "{name} {w}x{h}: {:.3} non-white",
            pic.non_white
        );
        for (c, n) in chart_colours.iter().zip(&pic.near) {
            assert!(
                *n > 200,
                "{name} {w}x{h}: chart colour {c} drawn on {n} pixels"
            );
        }
    }
    // Printing works (the print stylesheet is used).
    let pdf = b.dir.path().join(format!("{name}.pdf"));
    b.run(
        &p,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let bytes = std::fs::read(&pdf).expect("a PDF was printed");
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 5_000,
        "{name}: PDF of {} bytes",
        bytes.len()
    );
}

#[test]
fn run_page_loads_cleanly_and_draws_its_chart() {
    let Some(bin) = chromium("run_page_loads_cleanly_and_draws_its_chart") else {
        return;
    };
    let b = Browser::new(bin);
    let html = run_html(&common::finished(), &common::samples());
    // GPU power dominates the stacked area; CPU is the band under it.
    check_page(&b, "run.html", &html, &["#E69F00", "#0072B2"]);
}

#[test]
fn report_page_loads_cleanly_and_draws_its_charts() {
    let Some(bin) = chromium("report_page_loads_cleanly_and_draws_its_charts") else {
        return;
    };
    let b = Browser::new(bin);
    let mut rs = fixtures::project();
    rs.extend(common::all());
    let html = report_html(
        &rs,
        &HtmlOptions {
            subject: Some("project vision"),
            metric: Some("val_accuracy"),
            group_by: Some(GroupBy::Phase),
            ..Default::default()
        },
    );
    // Operational and embodied bars, GPU energy, and the scatter's points.
    check_page(
        &b,
        "report.html",
        &html,
        &["#D55E00", "#CC79A7", "#E69F00", "#56B4E9"],
    );
}

#[test]
fn hostile_pages_load_without_running_anything() {
    let Some(bin) = chromium("hostile_pages_load_without_running_anything") else {
        return;
    };
    let b = Browser::new(bin);
    let mut rs = fixtures::project();
    rs.push(fixtures::hostile());
    let report = report_html(
        &rs,
        &HtmlOptions {
            subject: Some("<script>alert('s')</script>"),
            metric: Some("<script>alert('m')</script>"),
            group_by: Some(GroupBy::Project),
            ..Default::default()
        },
    );
    for (name, html) in [
        ("hostile-report.html", report),
        (
            "hostile-run.html",
            run_html(&fixtures::hostile(), &common::samples()),
        ),
    ] {
        let p = b.write(name, &html);
        let (msgs, dom) = b.console(&p);
        assert!(msgs.is_empty(), "{name}: {msgs:#?}");
        // The text is there, as text.
        assert!(dom.contains("&lt;script&gt;"), "{name}");
        assert!(
            !dom.contains("<script"),
            "{name}: a script element was parsed"
        );
    }
}
