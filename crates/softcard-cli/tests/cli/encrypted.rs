//! Card images encrypted at rest, as scripts use them: `init --passphrase-file`, every
//! command with the passphrase from the option or the environment, `passphrase` to
//! encrypt, re-key and decrypt; each failure named without the passphrase in the message.

use std::path::Path;
use std::process::{Command, Output};

use super::{ok, softcard, text};

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `softcard` with `args` and `SOFTCARD_PASSPHRASE` set to `value`.
fn with_env_passphrase(value: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softcard"))
        .args(args)
        .env("SOFTCARD_PASSPHRASE", value)
        .env_remove("SOFTCARD_PASSPHRASE_FILE")
        .output()
        .unwrap()
}

fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn an_encrypted_card_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let right = dir.path().join("right");
    let wrong = dir.path().join("wrong");
    std::fs::write(&right, "correct horse battery\n").unwrap();
    std::fs::write(&wrong, "tr0ub4dor\n").unwrap();
    let (img, right, wrong) = (p(&image), p(&right), p(&wrong));

    let out = ok(&[
        "init",
        img,
        "--profile",
        "windows-vsc",
        "--seed",
        "3",
        "--passphrase-file",
        right,
    ]);
    assert!(out.contains("(encrypted)"), "{out}");
    let bytes = std::fs::read(&image).unwrap();
    assert!(bytes.starts_with(b"SOFTSEAL"));
    assert!(
        !bytes.windows(8).any(|w| w == b"12345678"),
        "no PIN in clear"
    );

    // Without a passphrase, and with a wrong one: refused, naming the problem only.
    let err = fails(&softcard(&["info", img]));
    assert!(
        err.contains("encrypted") && err.contains("--passphrase-file"),
        "{err}"
    );
    for args in [
        &["info", img, "--passphrase-file", wrong][..],
        &["pin", "verify", img, "--passphrase-file", wrong],
        &["cert", "list", img, "--passphrase-file", wrong],
    ] {
        let err = fails(&softcard(args));
        assert!(err.contains("passphrase is wrong"), "{args:?}: {err}");
        assert!(!err.contains("tr0ub4dor"), "never echoed: {err}");
    }
    let err = fails(&with_env_passphrase("tr0ub4dor", &["info", img]));
    assert!(!err.contains("tr0ub4dor"), "never echoed: {err}");
    assert_eq!(
        std::fs::read(&image).unwrap(),
        bytes,
        "failures change nothing"
    );

    // The right one, from the option or the environment, opens it; changes stay encrypted.
    let info = ok(&["info", img, "--json", "--passphrase-file", right]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["encryption"]["kdf"], "argon2id");
    assert_eq!(info["encryption"]["memory_kib"], 65536);
    assert_eq!(info["encryption"]["cipher"], "xchacha20-poly1305");
    let out = with_env_passphrase(
        "correct horse battery",
        &["pin", "change", img, "--new", "87654321"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let changed = std::fs::read(&image).unwrap();
    assert!(changed.starts_with(b"SOFTSEAL"));
    assert!(!changed.windows(8).any(|w| w == b"87654321"));
    let verify_new = [
        "pin",
        "verify",
        img,
        "--pin",
        "87654321",
        "--passphrase-file",
        right,
    ];
    let out = ok(&verify_new);
    assert!(out.contains("verified"), "{out}");

    // Decrypted: the same card in clear; then a passphrase for it is refused, not ignored.
    ok(&["passphrase", img, "--remove", "--passphrase-file", right]);
    let info = ok(&["info", img, "--json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(info["encryption"].is_null(), "{info}");
    let err = fails(&softcard(&verify_new));
    assert!(err.contains("not encrypted"), "{err}");

    // Encrypted again, under another passphrase: the old one no longer opens it.
    ok(&["passphrase", img, "--new-passphrase-file", wrong]);
    let err = fails(&softcard(&["info", img, "--passphrase-file", right]));
    assert!(err.contains("passphrase is wrong"), "{err}");
    ok(&["info", img, "--passphrase-file", wrong]);
    // Re-keying needs the current passphrase; without it nothing changes.
    let before = std::fs::read(&image).unwrap();
    let err = fails(&softcard(&[
        "passphrase",
        img,
        "--new-passphrase-file",
        right,
    ]));
    assert!(err.contains("encrypted"), "{err}");
    assert_eq!(std::fs::read(&image).unwrap(), before);
}

#[test]
fn passphrase_files_that_cannot_be_used_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("card.img");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let missing = dir.path().join("missing");
    for (file, says) in [(p(&empty), "empty"), (p(&missing), "cannot read")] {
        let out = softcard(&[
            "init",
            p(&image),
            "--profile",
            "piv",
            "--passphrase-file",
            file,
        ]);
        assert_eq!(out.status.code(), Some(2), "a usage error");
        let err = text(&out.stderr);
        assert!(err.contains(says) && err.contains(file), "{err}");
        assert!(!image.exists(), "nothing created");
    }
    let out = with_env_passphrase("", &["init", p(&image), "--profile", "piv"]);
    assert!(
        text(&out.stderr).contains("SOFTCARD_PASSPHRASE"),
        "{}",
        text(&out.stderr)
    );
    assert!(!image.exists(), "nothing created");
}
