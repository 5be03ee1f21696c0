//! The `softcard` binary: init, info, and their error messages.

use std::path::Path;
use std::process::Output;

use super::{ok, softcard, softcard_env, text};

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
    let cases: [(&[&str], &str); 5] = [
        (&["--profile", "openpgp"], "unknown profile"),
        (
            &["--profile", "windows-vsc", "--puk", "11112222"],
            "has no PUK",
        ),
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
    // The same description as data.
    let piv = &json["applets"][0];
    assert_eq!(piv["name"], "PIV");
    assert_eq!(piv["state"]["kind"], "piv");
    assert_eq!(
        piv["state"]["pin"]["tries_left"],
        piv["state"]["pin"]["limit"]
    );
    assert_eq!(piv["state"]["pin"]["blocked"], false);
    assert_eq!(piv["state"]["management_key"]["default"], true);
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

/// Runs `softcard` with `args`, failing (and killing it) if it has not ended within ten
/// seconds.
fn softcard_promptly(args: &[&str]) -> Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_softcard"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("softcard runs");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("softcard {args:?} still runs after ten seconds");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_fifo_or_device_given_as_image_is_refused_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.img");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let fifo = p(&fifo);
    let image = dir.path().join("card.img");
    assert!(
        softcard(&["init", p(&image), "--profile", "piv", "--seed", "8"])
            .status
            .success()
    );
    let before = std::fs::read(&image).unwrap();
    let image = p(&image);
    for args in [
        &["info", fifo][..],
        &["pin", "verify", fifo, "--pin", "123456"],
        &["info", "/dev/zero"],
        // A snapshot is an image file too: read as one.
        &["snapshot", "restore", image, fifo],
        &["snapshot", "restore", image, "/dev/zero"],
    ] {
        let out = softcard_promptly(args);
        assert_eq!(out.status.code(), Some(1), "softcard {args:?}");
        let err = text(&out.stderr);
        let path = args
            .iter()
            .find(|a| a.contains("fifo") || a.contains("zero"));
        assert!(
            err.contains(&format!("{}: not a regular file", path.unwrap())),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read(image).unwrap(),
        before,
        "the image is untouched"
    );
}

/// A 24-byte key other than the default one.
const KEY: &str = "0A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021";

fn run_err(args: &[&str]) -> String {
    let out = softcard(args);
    assert_eq!(out.status.code(), Some(1), "softcard {args:?} should fail");
    text(&out.stderr)
}

/// A windows-vsc card made with `init_extra` options, its PIN blocked.
fn blocked_windows_vsc(init_extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let image = p(&dir.path().join("card.img")).to_owned();
    let mut init = vec!["init", &image, "--profile", "windows-vsc"];
    init.extend_from_slice(init_extra);
    ok(&init);
    for _ in 0..3 {
        run_err(&["pin", "verify", &image, "--pin", "00000000"]);
    }
    assert!(run_err(&["pin", "verify", &image]).contains("blocked"));
    (dir, image)
}

/// `softcard pin unblock IMAGE --new 87654321` with these options.
fn unblock(image: &str, extra: &[&str]) -> Output {
    let mut args = vec!["pin", "unblock", image, "--new", "87654321"];
    args.extend_from_slice(extra);
    softcard(&args)
}

#[test]
fn windows_vsc_admin_key_given_at_init_unblocks_the_pin() {
    let (_dir, image) = blocked_windows_vsc(&["--admin-key", KEY]);
    // The default key is not this card's, given or not.
    let default_key = "010203040506070801020304050607080102030405060708";
    for extra in [&[][..], &["--admin-key", default_key]] {
        let out = unblock(&image, extra);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(
            err.contains("administrator key authentication failed") && err.contains("6982"),
            "{err}"
        );
        assert!(
            !err.contains("--admin-key-aes"),
            "no AES hint for a 3DES card: {err}"
        );
    }
    let out = unblock(&image, &["--admin-key", KEY]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    ok(&["pin", "verify", &image, "--pin", "87654321"]);
}

#[test]
fn windows_vsc_aes192_admin_key_unblocks_with_admin_key_aes() {
    let (_dir, image) = blocked_windows_vsc(&["--admin-key", KEY, "--admin-key-aes"]);
    // 24 bytes are 3DES unless told otherwise: refused, with the way out named.
    let out = unblock(&image, &["--admin-key", KEY]);
    let err = text(&out.stderr);
    assert!(
        err.contains("--admin-key-aes") && err.contains("6982"),
        "{err}"
    );
    let out = unblock(&image, &["--admin-key", KEY, "--admin-key-aes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    ok(&["pin", "verify", &image, "--pin", "87654321"]);
}

#[test]
fn an_aes_admin_key_of_another_length_is_refused_before_the_card_is_asked() {
    let (_dir, image) = blocked_windows_vsc(&["--admin-key", KEY, "--admin-key-aes"]);
    let before = std::fs::read(&image).unwrap();
    let twenty_bytes = &KEY[..40];
    let out = unblock(&image, &["--admin-key", twenty_bytes, "--admin-key-aes"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = text(&out.stderr);
    assert!(err.contains("16, 24 or 32 bytes, not 20"), "{err}");
    assert!(!err.contains(twenty_bytes), "the key is not echoed: {err}");
    assert_eq!(
        std::fs::read(&image).unwrap(),
        before,
        "the card was not asked"
    );
}

#[test]
fn piv_management_key_given_at_init_creates_keys() {
    for aes in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("card.img");
        let image = p(&image);
        let req = dir.path().join("req.pem");
        let mut init = vec!["init", image, "--profile", "piv", "--admin-key", KEY];
        if aes {
            init.push("--admin-key-aes");
        }
        ok(&init);
        let before = std::fs::read(image).unwrap();
        let err = run_err(&["enroll", image, "--out", p(&req)]);
        assert!(
            err.contains("management key authentication failed"),
            "{err}"
        );
        assert!(!req.exists());
        let out = ok(&["enroll", image, "--out", p(&req), "--management-key", KEY]);
        assert!(out.contains("container: 9D"), "{out}");
        assert_ne!(std::fs::read(image).unwrap(), before);
    }
}

#[test]
fn a_refused_new_pin_names_the_length_rules() {
    for (profile, rule) in [("windows-vsc", "8 to 127"), ("piv", "6 to 8")] {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("card.img");
        let image = p(&image);
        ok(&["init", image, "--profile", profile]);
        let err = run_err(&["pin", "change", image, "--new", "12"]);
        assert!(
            err.contains("6A80") && err.contains("new PIN") && err.contains(rule),
            "{profile}: {err}"
        );
        ok(&["pin", "verify", image]);
    }
}

#[test]
fn init_does_not_replace_an_image_another_process_holds() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let out = softcard(&["init", p(&image), "--profile", "piv", "--seed", "4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = std::fs::read(&image).unwrap();
    let lock = softcard_file::image_lock::ImageLock::acquire(&image).unwrap();

    let forced = softcard(&["init", p(&image), "--profile", "piv", "--force"]);
    assert_eq!(forced.status.code(), Some(1));
    let stderr = text(&forced.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(
        stderr.contains(&std::process::id().to_string()),
        "names the holder: {stderr}"
    );
    assert_eq!(std::fs::read(&image).unwrap(), first, "untouched");

    drop(lock);
    let forced = softcard(&["init", p(&image), "--profile", "piv", "--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_ne!(std::fs::read(&image).unwrap(), first);
}

#[test]
fn a_mistyped_key_is_named_by_its_position_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let typo = "0102030405060708010203040506070801020304050607x8";
    for json in [false, true] {
        let mut args = vec!["init", p(&image), "--profile", "piv", "--admin-key", typo];
        if json {
            args.push("--json");
        }
        let out = softcard(&args);
        assert_eq!(out.status.code(), Some(2), "a usage error");
        let err = text(&out.stderr);
        assert!(
            err.contains("--admin-key") && err.contains("character 47"),
            "{err}"
        );
        assert!(!err.contains("0102030405"), "the key is not echoed: {err}");
        assert!(!image.exists(), "nothing was created");
    }
}

#[test]
fn an_enroll_the_card_cannot_do_is_refused_before_the_pin_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    ok(&["init", p(&image), "--profile", "windows-vsc", "--seed", "5"]);
    let before = std::fs::read(&image).unwrap();
    let req = dir.path().join("req.pem");
    // With a wrong PIN: checked first, it would spend a try (and answer 63C2).
    let err = run_err(&[
        "enroll",
        p(&image),
        "--key",
        "p256",
        "--pin",
        "00000000",
        "--out",
        p(&req),
    ]);
    assert!(
        err.contains("RSA") && !err.contains("63C"),
        "names the problem: {err}"
    );
    assert_eq!(
        std::fs::read(&image).unwrap(),
        before,
        "the refused command changed nothing (no PIN try spent)"
    );
    assert!(!req.exists());
}

/// The `backend` an `info --json` run reports, with these extra arguments and environment.
fn info_backend(image: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["info", p(image), "--json"];
    all.extend_from_slice(args);
    let out = softcard_env(&all, env);
    assert!(out.status.success(), "{all:?}: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["backend"].as_str().expect("a backend").to_owned()
}

#[test]
fn the_backend_is_chosen_per_run_the_fastest_by_default_and_info_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let default = if cfg!(feature = "aws-lc") {
        "aws-lc"
    } else {
        "rustcrypto"
    };
    let out = softcard(&[
        "init",
        p(&image),
        "--profile",
        "piv",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], default, "init without --backend");
    assert_eq!(info_backend(&image, &[], &[]), default);
    assert_eq!(
        info_backend(&image, &["--backend", "rustcrypto"], &[]),
        "rustcrypto"
    );
    assert_eq!(
        info_backend(&image, &[], &[("SOFTCARD_BACKEND", "rustcrypto")]),
        "rustcrypto"
    );
    // The option wins over the environment.
    assert_eq!(
        info_backend(
            &image,
            &["--backend", default],
            &[("SOFTCARD_BACKEND", "rustcrypto")]
        ),
        default
    );
    let bad = softcard_env(&["info", p(&image)], &[("SOFTCARD_BACKEND", "openssl")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown backend"),
        "{}",
        text(&bad.stderr)
    );
    // A card made on one backend is used on the other: the image does not record it.
    for backend in ["rustcrypto", default] {
        let verify = softcard(&["pin", "verify", p(&image), "--backend", backend]);
        assert!(
            verify.status.success(),
            "{backend}: {}",
            text(&verify.stderr)
        );
    }
}

/// A reader that goes away (`softcard info IMAGE | head -1`) ends softcard quietly with the
/// shell's status for a SIGPIPE (141), not with a panic.
#[test]
fn a_closed_standard_output_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    assert!(
        softcard(&["init", p(&image), "--profile", "piv", "--seed", "2"])
            .status
            .success()
    );
    for args in [&["info", p(&image)][..], &["info", p(&image), "--json"]] {
        // The pipe's reading end is closed before softcard starts: its first write fails.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_softcard"))
            .args(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
