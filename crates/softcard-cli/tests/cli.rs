//! The `softcard` binary: init, info, and their error messages.

use std::path::Path;
use std::process::{Command, Output};

fn softcard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softcard"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn init_creates_a_private_image_and_refuses_to_overwrite_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let out = softcard(&["init", p(&image), "--profile", "piv", "--seed", "4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("predictable"),
        "seeded cards warn: {}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&image).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = std::fs::read(&image).unwrap();

    let again = softcard(&["init", p(&image), "--profile", "piv"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert!(text(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read(&image).unwrap(), first, "untouched");

    let forced = softcard(&["init", p(&image), "--profile", "windows-vsc", "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(
        !text(&forced.stderr).contains("predictable"),
        "an unseeded card does not warn"
    );
    assert_ne!(std::fs::read(&image).unwrap(), first);
}

#[test]
fn init_names_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let cases: [(&[&str], &str); 4] = [
        (&["--profile", "openpgp"], "unknown profile"),
        (&["--profile", "piv", "--admin-key", "0102zz"], "not hex"),
        (
            &["--profile", "piv", "--backend", "openssl"],
            "unknown backend",
        ),
        (&["--profile", "piv", "--seed", "x"], "invalid digit"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["init", p(&image)];
        args.extend_from_slice(extra);
        let out = softcard(&args);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains(expected),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(!image.exists());
    }
    let nowhere = dir.path().join("missing-folder/card.img");
    let out = softcard(&["init", p(&nowhere), "--profile", "piv"]);
    assert!(
        text(&out.stderr).contains("no such folder"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn info_describes_the_card_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    assert!(
        softcard(&[
            "init",
            p(&image),
            "--profile",
            "piv",
            "--seed",
            "9",
            "--serial",
            "4242"
        ])
        .status
        .success()
    );
    let out = softcard(&["info", p(&image)]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("profile: piv"));
    assert!(text(&out.stdout).contains("serial: 4242"));

    let out = softcard(&["info", p(&image), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["profile"], "piv");
    assert_eq!(json["serial"], 4242);
    assert!(json["atr"].as_str().unwrap().starts_with("3B"));
    assert!(json["description"].as_array().unwrap().len() >= 4);
}

#[test]
fn info_names_what_is_wrong_with_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let missing = softcard(&["info", p(&dir.path().join("nope.img"))]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no such card image"),
        "{}",
        text(&missing.stderr)
    );

    let foreign = dir.path().join("foreign.img");
    std::fs::write(&foreign, b"#!/bin/sh\necho not a card\n").unwrap();
    let out = softcard(&["info", p(&foreign)]);
    assert!(
        text(&out.stderr).contains("not a softcard card image"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        b"#!/bin/sh\necho not a card\n"
    );
}
