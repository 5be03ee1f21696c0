//! `softcard ca serve` for the Web Enrollment tests, and the venv `scripts/install-deps.sh`
//! makes for their Python clients (the `certsrv` package, Selenium).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::softcard_bin;

/// The venv with `certsrv` and Selenium (`SOFTCARD_CERTSRV_VENV`, else the folder
/// install-deps uses).
pub fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("SOFTCARD_CERTSRV_VENV") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("softcard-certsrv-venv")
}

/// `softcard ca serve`, killed on drop.
pub struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `softcard ca serve ARGS`; returns it and the first line it prints (the URL).
///
/// # Panics
/// If it does not start.
pub fn serve(args: &[&str]) -> (Serve, String) {
    let mut child = Command::new(softcard_bin::path())
        .args(["ca", "serve"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start softcard ca serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Serve(child), line)
}

/// Runs `softcard ARGS` and returns its standard output.
///
/// # Panics
/// If it fails.
pub fn softcard(args: &[&str]) -> String {
    let out = Command::new(softcard_bin::path())
        .args(args)
        .output()
        .expect("run softcard");
    assert!(
        out.status.success(),
        "softcard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
