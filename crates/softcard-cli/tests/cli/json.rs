//! `--json` as scripts read it: the result of `init`, `sign`, `pin` and `cert` on stdout,
//! and a failure as one JSON line on stderr (stdout empty, exit code non-zero).

use std::path::Path;
use std::process::Command;

use super::{path_in, softcard, text};

use serde_json::Value;

/// Runs a command that must succeed; its stdout parsed as JSON.
fn json_ok(args: &[&str]) -> Value {
    let out = softcard(args);
    assert!(
        out.status.success(),
        "softcard {args:?}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("softcard {args:?}: {e}: {}", text(&out.stdout)))
}

/// Runs a command that must fail with `code`; its stderr parsed as JSON, stdout empty.
fn json_err(args: &[&str], code: i32) -> Value {
    let out = softcard(args);
    assert_eq!(out.status.code(), Some(code), "softcard {args:?}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let line = stderr.lines().last().expect("a line on stderr");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("softcard {args:?}: {e}: {stderr}"))
}

/// `args` with a wrong `--pin` fails as JSON (exit code 1, "wrong PIN", status 63C2,
/// nothing else); its twin, `args` with the right (default) PIN, succeeds: its JSON.
fn wrong_pin_then_twin(args: &[&str]) -> Value {
    let err = json_err(&[args, &["--pin", "00000000"]].concat(), 1);
    assert!(
        err["error"].as_str().unwrap().contains("wrong PIN"),
        "{args:?}: {err}"
    );
    assert_eq!(err["status"], "63C2", "{args:?}: {err}");
    assert_eq!(err.as_object().unwrap().len(), 2, "{err}");
    json_ok(args)
}

/// A PIV card with a certificate in 9D (`demo --keep`), in `dir`.
fn demo_card(dir: &Path) -> String {
    let out = softcard(&["demo", "--profile", "piv", "--keep", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    path_in(dir, "card.img")
}

/// The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint` gives it.
fn openssl_fingerprint(pem: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", pem])
        .output()
        .expect("openssl runs");
    let said = text(&out.stdout);
    said.trim()
        .split_once('=')
        .expect("sha256 Fingerprint=...")
        .1
        .replace(':', "")
}

#[test]
fn init_json_names_the_card() {
    let dir = tempfile::tempdir().unwrap();
    let image = path_in(dir.path(), "card.img");
    for (profile, atr) in [("piv", "3B8D8001"), ("windows-vsc", "3B8D0180")] {
        let json = json_ok(&[
            "init",
            &image,
            "--profile",
            profile,
            "--serial",
            "4242",
            "--force",
            "--json",
        ]);
        assert_eq!(json["image"], image.as_str());
        assert_eq!(json["profile"], profile);
        assert_eq!(json["serial"], 4242);
        assert!(json["atr"].as_str().unwrap().starts_with(atr), "{json}");
        let info = json_ok(&["info", &image, "--json"]);
        assert_eq!(json["atr"], info["atr"]);
        assert_eq!(json["serial"], info["serial"]);
    }
    // Without --json the text is as before.
    let out = softcard(&["init", &image, "--profile", "piv", "--force"]);
    assert!(
        text(&out.stdout).starts_with("created piv card, serial "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn pin_json_gives_the_result_and_the_tries_left() {
    for (profile, app) in [("piv", "PIV"), ("windows-vsc", "GIDS")] {
        let dir = tempfile::tempdir().unwrap();
        let image = path_in(dir.path(), "card.img");
        json_ok(&["init", &image, "--profile", profile, "--json"]);

        // A wrong PIN: non-zero exit, nothing on stdout, the error and status word as JSON.
        // Its twin with the right PIN; the counter is back to 3.
        let json = wrong_pin_then_twin(&["pin", "verify", &image, "--json"]);
        assert_eq!(json["result"], "verified");
        assert_eq!(json["application"], app);
        assert_eq!(json["tries_left"], 3);

        // --json also before the subcommand (a `pin` option).
        let json = json_ok(&["pin", "--json", "change", &image, "--new", "87654321"]);
        assert_eq!(json["result"], "changed");
        assert_eq!(json["tries_left"], 3);
        let err = json_err(
            &[
                "pin", "change", &image, "--pin", "87654321", "--new", "12", "--json",
            ],
            1,
        );
        assert_eq!(err["status"], "6A80", "{err}");
        // The PIN now is 87654321: two wrong ones, then an unblock resets the counter.
        for left in ["63C2", "63C1"] {
            let err = json_err(&["pin", "verify", &image, "--json"], 1);
            assert_eq!(err["status"], left, "{err}");
        }
        let json = json_ok(&["pin", "unblock", &image, "--new", "12345678", "--json"]);
        assert_eq!(json["result"], "unblocked");
        assert_eq!(json["tries_left"], 3);
        assert_eq!(
            json_ok(&["pin", "verify", &image, "--json"])["tries_left"],
            3
        );

        // Without --json: the text as before, on stdout and stderr.
        let out = softcard(&["pin", "verify", &image]);
        assert_eq!(text(&out.stdout), "PIN verified\n");
        let out = softcard(&["pin", "verify", &image, "--pin", "00000000"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        assert_eq!(
            text(&out.stderr),
            "softcard: error: wrong PIN (status 63C2): 2 tries left\n"
        );
    }
}

#[test]
fn sign_json_names_the_key_and_gives_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = demo_card(d);
    std::fs::write(d.join("msg"), b"hello").unwrap();
    let (msg, sig) = (path_in(d, "msg"), path_in(d, "sig"));
    let json = json_ok(&[
        "sign",
        &image,
        "--container",
        "9d",
        "--in",
        &msg,
        "--out",
        &sig,
        "--json",
    ]);
    assert_eq!(json["container"], "9D");
    assert_eq!(json["key"], "Rsa2048");
    assert_eq!(json["algorithm"], "RsaPkcs1");
    assert_eq!(json["hash"], "Sha256");
    assert_eq!(json["in"], msg.as_str());
    assert_eq!(json["out"], sig.as_str());
    let written = std::fs::read(&sig).unwrap();
    assert_eq!(written.len(), 256);
    let hex: String = written.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(json["signature"], hex.as_str());

    // An ECDSA key, made by `enroll --json`.
    let enrolled = json_ok(&[
        "enroll",
        &image,
        "--container",
        "9A",
        "--key",
        "p256",
        "--keyspec",
        "signature",
        "--out",
        &path_in(d, "req.pem"),
        "--json",
    ]);
    assert_eq!(enrolled["container"], "9A");
    let json = json_ok(&[
        "sign",
        &image,
        "--container",
        "9A",
        "--hash",
        "sha384",
        "--in",
        &msg,
        "--out",
        &sig,
        "--json",
    ]);
    assert_eq!(json["key"], "P256");
    assert_eq!(json["algorithm"], "Ecdsa");
    assert_eq!(json["hash"], "Sha384");

    // A wrong PIN fails as JSON; its twin succeeds.
    std::fs::remove_file(&sig).unwrap();
    let args = [
        "sign",
        &image,
        "--container",
        "9A",
        "--in",
        &msg,
        "--out",
        &sig,
        "--json",
    ];
    let json = wrong_pin_then_twin(&args);
    assert_eq!(json["container"], "9A");
    assert!(d.join("sig").exists());
    // An unknown container: no status word, so no "status".
    let err = json_err(
        &[
            "sign",
            &image,
            "--container",
            "9E",
            "--in",
            &msg,
            "--out",
            &sig,
            "--json",
        ],
        1,
    );
    assert!(err["error"].as_str().unwrap().contains("9E"), "{err}");
    assert!(err.get("status").is_none(), "{err}");
}

#[test]
fn cert_export_and_import_json_name_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = demo_card(d);
    let fingerprint = openssl_fingerprint(&path_in(d, "cert.pem"));
    let pem = std::fs::read_to_string(d.join("cert.pem")).unwrap();

    // To stdout: the PEM is in the JSON.
    let json = json_ok(&["cert", "export", &image, "--container", "9D", "--json"]);
    assert_eq!(json["container"], "9D");
    assert_eq!(json["sha256"], fingerprint.as_str());
    assert!(
        json["subject"].as_str().unwrap().starts_with("CN="),
        "{json}"
    );
    assert_eq!(json["pem"], pem.as_str());
    assert_eq!(json["out"], Value::Null);
    // To a file.
    let out = path_in(d, "exported.pem");
    let to_file = json_ok(&[
        "cert",
        "export",
        &image,
        "--container",
        "9D",
        "--out",
        &out,
        "--json",
    ]);
    assert_eq!(to_file["out"], out.as_str());
    assert_eq!(to_file["sha256"], json["sha256"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), pem);

    let cert = path_in(d, "cert.pem");
    let args = [
        "cert",
        "import",
        &image,
        "--container",
        "9D",
        &cert,
        "--json",
    ];
    let json = wrong_pin_then_twin(&args);
    assert_eq!(json["container"], "9D");
    assert_eq!(json["file"], cert.as_str());
    assert_eq!(json["sha256"], fingerprint.as_str());
    assert_eq!(json["subject"], to_file["subject"]);

    // The subject is the one `enroll --subject` took.
    let req = path_in(d, "req.pem");
    json_ok(&[
        "enroll",
        &image,
        "--container",
        "9C",
        "--format",
        "pkcs10",
        "--subject",
        "CN=Jane Doe,O=Example\\, Inc.,C=US",
        "--out",
        &req,
        "--json",
    ]);
    // The demo keeps no CA key: a CA made here issues the certificate.
    let steps: [&[&str]; 2] = [
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca2.key", "-subj",
            "/CN=CA", "-out", "ca2.pem",
        ],
        &[
            "x509", "-req", "-in", "req.pem", "-CA", "ca2.pem", "-CAkey", "ca2.key", "-out",
            "jane.pem",
        ],
    ];
    for args in steps {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let json = json_ok(&[
        "cert",
        "import",
        &image,
        "--container",
        "9C",
        &path_in(d, "jane.pem"),
        "--json",
    ]);
    assert_eq!(json["subject"], "CN=Jane Doe,O=Example\\, Inc.,C=US");
    assert_eq!(
        json["sha256"],
        openssl_fingerprint(&path_in(d, "jane.pem")).as_str()
    );

    // A certificate of another key: refused, as JSON without a status word.
    let err = json_err(
        &[
            "cert",
            "import",
            &image,
            "--container",
            "9D",
            &path_in(d, "jane.pem"),
            "--json",
        ],
        1,
    );
    assert!(
        err["error"].as_str().unwrap().contains("certifies the key"),
        "{err}"
    );
    assert!(err.get("status").is_none(), "{err}");
}

#[test]
fn a_command_line_that_does_not_parse_fails_as_json_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let image = path_in(dir.path(), "card.img");
    let err = json_err(&["init", &image, "--profile", "openpgp", "--json"], 2);
    assert!(
        err["error"].as_str().unwrap().contains("unknown profile"),
        "{err}"
    );
    // Without --json, clap's own words.
    let out = softcard(&["init", &image, "--profile", "openpgp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: "),
        "{}",
        text(&out.stderr)
    );
    // Help is not a failure.
    let out = softcard(&["pin", "verify", "--help", "--json"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--json"));
}
