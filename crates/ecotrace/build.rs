//! Lays out `ecotrace-run`'s code so that what a run executes sits together: the functions named
//! in `run-order.txt` (those `ecotrace run` executes, found by `scripts/gen-run-order`) go first in
//! the binary's text. A running tracker's resident memory is mostly the code pages it touches,
//! and the kernel maps whole blocks around each one (docs/benchmarks.md), so code that runs spread
//! among code that never does costs memory. Only for release builds linked by rust-lld (the
//! default linker of Rust 1.90+ on x86_64 Linux; mold reads the same option): other linkers get
//! the same binary with the default layout. A name the build no longer has is skipped.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=run-order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("PROFILE").as_deref() != Ok("release")
        || env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu")
        || !default_linker_is_lld()
    {
        return;
    }
    let order = std::path::Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("run-order.txt");
    println!(
        "cargo:rustc-link-arg-bin=ecotrace-run=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin=ecotrace-run=-Wl,--no-warn-symbol-ordering");
}

/// Rust 1.90+ links x86_64 Linux binaries with its own lld, unless the build names another
/// linker (a `-C linker...` or `-fuse-ld` flag).
fn default_linker_is_lld() -> bool {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return false;
    }
    if env::vars().any(|(k, _)| k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER")) {
        return false;
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.lines().find_map(|l| l.strip_prefix("release: ")) else {
        return false;
    };
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
