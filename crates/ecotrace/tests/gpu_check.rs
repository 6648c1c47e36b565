//! `scripts/gpu-check` on a machine without an NVIDIA GPU: it says so and exits 0, whether
//! nvidia-smi is missing or present but finds no GPU (the driver not loaded). The check itself
//! needs a GPU; docs/sensors.md says how to run it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/gpu-check")
}

/// A PATH with only the tools the script needs before it looks for a GPU, plus `extra`.
fn path_with(dir: &Path, extra: Option<&str>) -> String {
    for tool in ["bash", "dirname", "grep", "sed"] {
        let real = which(tool);
        std::os::unix::fs::symlink(real, dir.join(tool)).unwrap();
    }
    if let Some(body) = extra {
        let p = dir.join("nvidia-smi");
        std::fs::write(&p, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.display().to_string()
}

fn which(tool: &str) -> PathBuf {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{tool} not found"))
}

fn run(path: &str) -> (i32, String) {
    let out = Command::new(script())
        .env("PATH", path)
        .output()
        .expect("scripts/gpu-check runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn without_nvidia_smi_it_says_so_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, text) = run(&path_with(dir.path(), None));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("no NVIDIA GPU here (nvidia-smi not found)"),
        "{text}"
    );
}

#[test]
fn with_a_driver_that_finds_no_gpu_it_says_so_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n";
    let (code, text) = run(&path_with(dir.path(), Some(fake)));
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("no NVIDIA GPU here (nvidia-smi lists none"),
        "{text}"
    );
    assert!(text.contains("couldn't communicate"), "{text}");
}
