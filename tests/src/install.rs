//! Plumbing of the installation tests (`tests/install.rs`, `tests/debian_package.rs`,
//! `tests/container.rs`): running a command that must succeed, skipping a test that
//! cannot run here (a failure under `SOFTCARD_E2E=require`), and the target folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::peer::workspace;

/// Whether `test` must be skipped for `why` (printed); with `SOFTCARD_E2E=require` a
/// reason to skip is a failure instead.
///
/// # Panics
/// Under `SOFTCARD_E2E=require` when there is a reason.
pub fn skip(test: &str, why: Option<String>) -> bool {
    let Some(why) = why else {
        return false;
    };
    if std::env::var("SOFTCARD_E2E").as_deref() == Ok("require") {
        panic!("{test}: required (SOFTCARD_E2E=require) but {why}");
    }
    println!("SKIPPED {test}: {why}");
    true
}

/// `None` when every program named is on `PATH`, else which one is missing.
pub fn missing_programs(programs: &[&str]) -> Option<String> {
    programs
        .iter()
        .find(|p| {
            !Command::new("sh")
                .args(["-c", "command -v \"$0\" >/dev/null", p])
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|p| format!("{p} is not installed (scripts/install-deps.sh installs it)"))
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The cargo target folder this test was built in (`target`, or `CARGO_TARGET_DIR`),
/// found from the running executable (`<target>/<profile>/deps/<test>`).
///
/// # Panics
/// If the executable is not in such a folder.
pub fn target_root() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("a test executable is in <target>/<profile>/deps")
        .to_path_buf()
}

/// A `cargo` command run in the workspace, without the variables of the cargo running
/// this test that would steer it.
pub fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(workspace())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    cargo
}

/// Runs `command`, which must succeed; returns its output.
///
/// # Panics
/// If it cannot start or fails (with its output).
pub fn run_ok(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The files under `folder`, relative to it, sorted.
pub fn files_under(folder: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(folder) {
                found.push(relative.to_path_buf());
            }
        }
    }
    found.sort();
    found
}
