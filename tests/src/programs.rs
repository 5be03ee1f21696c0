//! The test programs kept in `tests/scripts`: Python scripts run with the system's
//! `/usr/bin/python3` (which has pyscard), and C programs compiled against the system's
//! `<winscard.h>` and linked with `-lpcsclite`, so that they load whichever
//! `libpcsclite.so.1` comes first: the drop-in under `softcard exec`, else pcsc-lite.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python with pyscard (another python3 may come first on `PATH`).
pub const PYTHON: &str = "/usr/bin/python3";

/// The path of `tests/scripts/NAME`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

/// Compiles `tests/scripts/SOURCE` into `out` with `cc -Wall -Wextra`, the pcsc-lite
/// headers, `-lpcsclite` and the `libs` given (`-lcrypto`, `-lpthread`); returns `out`.
///
/// # Panics
/// If the compiler fails or warns.
pub fn compile_c(source: &str, out: &Path, libs: &[&str]) -> PathBuf {
    let result = Command::new("cc")
        .args(["-Wall", "-Wextra", "-Werror", "-I/usr/include/PCSC", "-o"])
        .arg(out)
        .arg(script(source))
        .arg("-lpcsclite")
        .args(libs)
        .output()
        .expect("run cc");
    assert!(
        result.status.success(),
        "cc {source}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out.to_path_buf()
}
