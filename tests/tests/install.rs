//! `cargo install --path crates/softcard-cli` gives a `softcard` that works alone: the
//! installed binary, run from another folder with no checkout or target folder in reach,
//! creates a card, runs the demo, and `softcard exec` gives OpenSC its drop-in library
//! (the copy the binary carries) with no other file installed.
//!
//! Needs `opensc-tool` (no pcscd: exec is daemonless). The release build goes to
//! `<target>/softcard-install`, kept between runs so that a second run only relinks.

use std::path::Path;
use std::process::Command;

use softcard_tests::install::{cargo, files_under, missing_programs, run_ok, skip, target_root};

/// `softcard init` with the installed binary.
fn init(softcard: &Path, folder: &Path, image: &str) {
    run_ok(Command::new(softcard).current_dir(folder).args([
        "init",
        image,
        "--profile",
        "piv",
        "--seed",
        "5",
    ]));
}

/// The card's ATR as opensc-tool prints it (`3b:8d:...`), from `softcard info --json`.
fn atr_of(softcard: &Path, image: &Path) -> String {
    let out = run_ok(Command::new(softcard).arg("info").arg("--json").arg(image));
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .split("\"atr\": \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("info --json names the ATR");
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).to_lowercase())
        .collect::<Vec<_>>()
        .join(":")
}

#[test]
fn cargo_install_gives_a_softcard_whose_exec_works_from_another_folder() {
    let test = "cargo_install_gives_a_softcard_whose_exec_works_from_another_folder";
    if skip(test, missing_programs(&["opensc-tool"])) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    run_ok(
        cargo()
            .args([
                "install",
                "--locked",
                "--quiet",
                "--path",
                "crates/softcard-cli",
            ])
            .arg("--root")
            .arg(root.path())
            .arg("--target-dir")
            .arg(target_root().join("softcard-install")),
    );
    // One file installed: the binary (and cargo's own records of what it installed).
    let installed: Vec<_> = files_under(root.path())
        .into_iter()
        .filter(|f| !f.to_string_lossy().starts_with(".crates"))
        .collect();
    assert_eq!(installed, [Path::new("bin/softcard")], "{installed:?}");
    let softcard = root.path().join("bin/softcard");

    // Elsewhere: a folder of its own, nothing of the build in reach.
    let elsewhere = tempfile::tempdir().unwrap();
    init(&softcard, elsewhere.path(), "card.img");
    let exec = |args: &[&str]| {
        let mut command = Command::new(&softcard);
        command
            .current_dir(elsewhere.path())
            .env_remove("LD_LIBRARY_PATH")
            .env_remove("SOFTCARD_PCSCLITE")
            .env_remove("SOFTCARD_HOST")
            .env_remove("OPENSC_CONF")
            .args(["exec", "--image", "card.img", "--"])
            .args(args);
        command
    };
    let out = run_ok(&mut exec(&["opensc-tool", "-a"]));
    let atr = atr_of(&softcard, &elsewhere.path().join("card.img"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains(&atr), "ATR {atr} not in: {stdout}");
    assert!(stderr.contains("softcard PIV 00 00"), "{stderr}");

    // The library the program got is the carried copy, written into exec's folder.
    let out = run_ok(&mut exec(&[
        "sh",
        "-c",
        "lib=\"$(dirname \"$SOFTCARD_HOST\")/libpcsclite.so.1\"; \
         test -f \"$lib\" && ! test -L \"$lib\" && echo written",
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "written");

    // The other subcommands need no other file either.
    let out = run_ok(
        Command::new(&softcard)
            .current_dir(elsewhere.path())
            .args(["pin", "verify", "card.img", "--pin", "12345678"]),
    );
    assert!(out.status.success());
    let out = run_ok(Command::new(&softcard).current_dir(elsewhere.path()).args([
        "demo",
        "--profile",
        "piv",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("sign a logon challenge") && l.contains("... ok")),
        "{text}"
    );

    // The failing twin: a drop-in named where there is none is an error naming it, and
    // the program does not run.
    let out = exec(&["sh", "-c", "echo ran"])
        .env("SOFTCARD_PCSCLITE", "/nonexistent/libpcsclite.so.1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SOFTCARD_PCSCLITE=/nonexistent/libpcsclite.so.1"),
        "{stderr}"
    );
}
