//! The LaTeX output compiles: each snippet (one run, a project, hostile strings) pasted into a bare
//! `article` document goes through `pdflatex` without an error, and a snippet that was not escaped
//! would not (proved with a broken one). Needs `pdflatex` (Debian's `texlive-latex-base`, which
//! `scripts/test` installs); without it every test here says `skipped: ...` on stderr and passes.

mod common;
mod fixtures;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ecotrace_report::*;

fn pdflatex(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("pdflatex"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}: no pdflatex found (install Debian's `texlive-latex-base`, as scripts/test does)"
        );
    }
    found
}

/// Compiles `body` in a bare article; `Ok` with the PDF size, or `Err` with the log's errors.
fn compile(bin: &PathBuf, body: &str) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let doc =
        format!("\\documentclass{{article}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n");
    std::fs::write(dir.path().join("paper.tex"), doc).unwrap();
    let mut child = Command::new(bin)
        .args([
            "-interaction=nonstopmode",
            "-halt-on-error",
            "-no-shell-escape",
            "paper.tex",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("pdflatex did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(dir.path().join("paper.log")).unwrap_or_default();
    let pdf = std::fs::metadata(dir.path().join("paper.pdf")).map(|m| m.len() as usize);
    match (status.success(), pdf) {
        (true, Ok(n)) => Ok(n),
        _ => Err(log
            .lines()
            .filter(|l| l.starts_with('!') || l.starts_with("l."))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

#[test]
fn latex_output_compiles() {
    let Some(bin) = pdflatex("latex_output_compiles") else {
        return;
    };
    let o = DocOptions::default();
    let cases = [
        (
            "one run",
            show_document(&common::finished(), &[], Format::Latex, &o),
        ),
        (
            "the fixed ledger",
            report_document(&common::all(), Format::Latex, &o),
        ),
        (
            "a project",
            report_document(
                &fixtures::project(),
                Format::Latex,
                &DocOptions {
                    subject: Some("project vision"),
                    ..o
                },
            ),
        ),
        (
            "hostile strings",
            report_document(
                &[fixtures::hostile(), common::hostile()],
                Format::Latex,
                &DocOptions {
                    subject: Some("\\input{/etc/passwd} & 100% #1 $x$ ~ ^ _ {"),
                    ..o
                },
            ),
        ),
    ];
    for (what, body) in cases {
        let n = compile(&bin, &body)
            .unwrap_or_else(|e| panic!("{what} does not compile:\n{e}\n{body}"));
        assert!(n > 1000, "{what}: PDF of {n} bytes");
    }
}

#[test]
fn the_check_catches_unescaped_text() {
    let Some(bin) = pdflatex("the_check_catches_unescaped_text") else {
        return;
    };
    let good = show_document(
        &common::finished(),
        &[],
        Format::Latex,
        &DocOptions::default(),
    );
    // The same table with a raw `&` and `#` in a cell, as an unescaped project name would give.
    let broken = good.replace("Runs & 1", "Runs & 1 & R&D #1");
    assert!(compile(&bin, &good).is_ok());
    let e = compile(&bin, &broken).expect_err("broken LaTeX compiled");
    assert!(e.contains('!'), "{e}");
}
