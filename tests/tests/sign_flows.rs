//! The same client flow on both routes: pyscard and a program on the real `pcsc` crate
//! select the PIV application, fail a VERIFY with a wrong PIN (63C2), VERIFY the right one,
//! and have the card sign; the signature verifies against the key generated on the card.
//! Route 1 is the daemonless drop-in (`softcard exec`), route 2 is pcscd + vpcd
//! (`softcard serve`).

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use rsa::{BoxedUint, PublicKey, pkcs1v15::Pkcs1v15Sign};
use sha2::{Digest, Sha256};
use softcard_tests::{peer::PeerStack, piv_host, softcard_bin, softcard_bin::Serve, wait};

const PYTHON: &str = "/usr/bin/python3";

fn script(name: &str) -> String {
    format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The lines a client printed, as `KEY VALUE` pairs.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {key} line in:\n{out}"))
}

fn check_client_output(out: &Output, n: &[u8], e: &[u8]) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(field(&text, "SELECT"), "9000");
    assert_eq!(field(&text, "VERIFY-WRONG"), "63C2", "wrong PIN must fail");
    assert_eq!(field(&text, "VERIFY"), "9000");
    assert_eq!(field(&text, "SIGN"), "9000");
    let sig = softcard_test_support::hex::parse(field(&text, "SIGNATURE")).unwrap();
    let key = PublicKey::new(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap();
    let digest = Sha256::digest(b"softcard");
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .expect("the card's signature verifies");
    // and a different message does not (the check can fail)
    let other = Sha256::digest(b"softcarD");
    assert!(
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &other, &sig)
            .is_err()
    );
}

fn pin_tries(image: &Path) -> String {
    let out = softcard_bin::run(&["info", image.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find(|l| l.contains("PIN tries left"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn clients(prefix: &str, image: &Path) -> Vec<(&'static str, Command)> {
    let mut py = Command::new(PYTHON);
    py.arg(script("pyscard_sign.py"))
        .arg(prefix)
        .arg("12345678");
    let mut rust = Command::new(env!("CARGO_BIN_EXE_pcsc-sign-client"));
    rust.arg(prefix).arg("12345678");
    let _ = image;
    vec![("pyscard", py), ("pcsc crate", rust)]
}

#[test]
fn dropin_route_pyscard_and_pcsc_crate_verify_and_sign() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    let (n, e) = piv_host::piv_image_with_rsa_key(&image, 21);
    for (name, client) in clients("softcard", &image) {
        let mut exec = Command::new(softcard_bin::path());
        exec.arg("exec").arg("--image").arg(&image).arg("--");
        exec.arg(client.get_program()).args(client.get_args());
        let out = exec.output().unwrap();
        println!(
            "{name} through the drop-in:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        check_client_output(&out, &n, &e);
        // the wrong try was spent and the right PIN restored the counter, in the image
        assert_eq!(pin_tries(&image), "PIN tries left: 3/3", "{name}");
    }
}

#[test]
fn pcscd_route_pyscard_and_pcsc_crate_verify_and_sign() {
    let Some(_stack) = PeerStack::acquire("pcscd_route_pyscard_and_pcsc_crate_verify_and_sign")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("piv.img");
    let (n, e) = piv_host::piv_image_with_rsa_key(&image, 22);
    let mut serve = Serve::start(&[&image], "127.0.0.1:35963", &dir.path().join("serve.log"));
    let present = wait::until(Duration::from_secs(20), || {
        let out = Command::new("opensc-tool")
            .args(["-r", "0", "-a"])
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    assert!(
        present.is_some(),
        "card not in the reader; serve log:\n{}",
        serve.log()
    );
    for (name, mut client) in clients("Virtual PCD 00 00", &image) {
        let out = client.output().unwrap();
        println!(
            "{name} through pcscd:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        check_client_output(&out, &n, &e);
    }
    assert!(serve.stop(), "serve did not stop cleanly:\n{}", serve.log());
    assert_eq!(pin_tries(&image), "PIN tries left: 3/3");
}
