//! The Debian package: built from this checkout (`scripts/build-deb`, cargo-deb), installed
//! with `apt-get install ./softcard_*.deb`, used from the installed paths (`softcard demo`,
//! `softcard exec -- pcsc_scan -r` with the drop-in from /usr/lib/softcard), then purged,
//! leaving none of its files and the system's libpcsclite untouched.
//!
//! Needs root, apt-get, cargo-deb and pcsc_scan (`scripts/install-deps.sh`); skipped with
//! the reason otherwise (a failure under `SOFTCARD_E2E=require`), and when a softcard
//! package is already installed (this test would replace it). The release build goes to
//! `<target>/softcard-install`, shared with `tests/install.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use softcard_tests::install::{is_root, missing_programs, run_ok, skip, target_root};
use softcard_tests::peer::workspace;

/// The files the package must install.
const FILES: [&str; 4] = [
    "/usr/bin/softcard",
    "/usr/lib/softcard/libpcsclite.so.1",
    "/usr/share/doc/softcard/README.md",
    "/usr/share/doc/softcard/docs/architecture.md",
];

/// Whether the `softcard` package is installed.
fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "softcard"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Purges the package when dropped, whatever the test did.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("apt-get")
            .args(["purge", "-y", "-qq", "softcard"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
    }
}

/// The system's PC/SC library, the file it resolves to and its content.
fn system_libpcsclite() -> Option<(PathBuf, Vec<u8>)> {
    let path = std::fs::canonicalize("/usr/lib/x86_64-linux-gnu/libpcsclite.so.1").ok()?;
    let bytes = std::fs::read(&path).ok()?;
    Some((path, bytes))
}

/// A control field of a .deb.
fn field(deb: &Path, name: &str) -> String {
    let out = run_ok(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_debian_package_installs_runs_and_purges_cleanly() {
    let test = "the_debian_package_installs_runs_and_purges_cleanly";
    let why = if !is_root() {
        Some("not root: apt-get install needs root".to_owned())
    } else if installed() {
        Some("a softcard package is installed already (apt-get purge softcard)".to_owned())
    } else {
        missing_programs(&["apt-get", "dpkg-deb", "cargo-deb", "pcsc_scan"])
    };
    if skip(test, why) {
        return;
    }

    // Build.
    let out = run_ok(
        Command::new(workspace().join("scripts/build-deb"))
            .env("CARGO_TARGET_DIR", target_root().join("softcard-install"))
            .env_remove("RUSTC_WORKSPACE_WRAPPER"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let deb = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("softcard_") && name.ends_with(".deb"),
        "{stdout}"
    );
    assert!(field(&deb, "Depends").contains("libc6"));
    assert_eq!(field(&deb, "Recommends"), "pcscd, vsmartcard-vpcd, opensc");

    // Install, as a user would: apt-get with a path.
    let system_before = system_libpcsclite();
    let folder = tempfile::tempdir().unwrap();
    let local = folder.path().join(&name);
    std::fs::copy(&deb, &local).unwrap();
    let _purge = Purge;
    run_ok(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .arg(&local)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    );
    assert!(installed());
    for file in FILES {
        assert!(Path::new(file).is_file(), "{file} not installed");
    }

    // Run from the installed paths, in a folder of its own.
    let work = tempfile::tempdir().unwrap();
    let softcard = || {
        let mut command = Command::new("/usr/bin/softcard");
        command
            .current_dir(work.path())
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("SOFTCARD_PCSCLITE")
            .env_remove("SOFTCARD_HOST")
            .env_remove("OPENSC_CONF");
        command
    };
    let out = run_ok(softcard().arg("demo"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("sign a logon challenge") && l.contains("... ok")),
        "{text}"
    );
    run_ok(softcard().args(["init", "card.img", "--profile", "piv", "--seed", "3"]));
    let out = run_ok(softcard().args(["exec", "--image", "card.img", "--", "pcsc_scan", "-r"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("softcard PIV 00 00"), "{text}");
    // exec gave the program the packaged drop-in.
    let out = run_ok(softcard().args([
        "exec",
        "--image",
        "card.img",
        "--",
        "sh",
        "-c",
        "readlink \"$(dirname \"$SOFTCARD_HOST\")/libpcsclite.so.1\"",
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/usr/lib/softcard/libpcsclite.so.1"
    );
    // The system's libpcsclite is neither replaced nor shadowed.
    assert_eq!(system_libpcsclite(), system_before);

    // Purge: nothing of the package stays.
    run_ok(
        Command::new("apt-get")
            .args(["purge", "-y", "-qq", "softcard"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    );
    assert!(!installed());
    for gone in FILES
        .iter()
        .copied()
        .chain(["/usr/lib/softcard", "/usr/share/doc/softcard"])
    {
        assert!(!Path::new(gone).exists(), "{gone} left after purge");
    }
    assert_eq!(system_libpcsclite(), system_before);
}
