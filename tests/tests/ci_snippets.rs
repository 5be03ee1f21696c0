//! The CI snippets of docs/ci run as a user's CI job runs them: `docs/ci/softcard-ci.sh
//! exec` (yubico-piv-tool, OpenSC's pkcs11-tool and openssl under `softcard exec`, no
//! daemon) and `docs/ci/softcard-ci.sh serve` (the same through pcscd and vpcd with
//! `softcard serve`), each signing with the right PIN and refused with a wrong one. The
//! GitHub Actions workflow's steps are the script's lines (`scripts/check-ci-snippets`).

use std::path::Path;
use std::process::Command;

use softcard_tests::peer::{PeerStack, workspace};
use softcard_tests::softcard_bin;

/// Runs one job of the script with the workspace's `softcard` first on PATH, in a new
/// folder; returns its output after checking it passed.
fn run_job(job: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let bin = softcard_bin::path();
    let path = std::env::join_paths(std::iter::once(bin.parent().unwrap().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let out = Command::new("bash")
        .arg(workspace().join("docs/ci/softcard-ci.sh"))
        .arg(job)
        .env("PATH", path)
        .env("SOFTCARD_CI_DIR", dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "softcard-ci.sh {job} failed:\n{text}");
    assert!(
        text.contains(&format!("softcard-ci: {job}: passed")),
        "{text}"
    );
    assert!(
        text.contains("Verified OK"),
        "openssl checked the signature:\n{text}"
    );
    assert!(
        read(&dir.path().join("wrong-pin.txt")).contains("CKR_PIN_INCORRECT"),
        "{text}"
    );
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn the_ci_script_signs_under_softcard_exec() {
    run_job("exec");
}

#[test]
fn the_ci_script_signs_through_pcscd_with_softcard_serve() {
    let Some(_stack) = PeerStack::acquire("the_ci_script_signs_through_pcscd_with_softcard_serve")
    else {
        return;
    };
    run_job("serve");
}
