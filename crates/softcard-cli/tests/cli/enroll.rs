//! `softcard enroll`, `cert`, `sign`, `pin` and `demo` as scripts call them, with OpenSSL
//! judging the requests and signatures.

use std::path::Path;

use softcard_test_support::openssl;

use super::{ok, path_in, softcard};

/// OpenSSL 3.0's `req -verify` exits 0 whatever the signature: what it says counts.
fn req_verifies(out: &std::process::Output) {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.contains("verify OK") && !said.contains("failure"),
        "openssl req -verify: {said}"
    );
}

fn new_card(dir: &Path, profile: &str) -> String {
    let image = path_in(dir, "card.img");
    ok(&["init", "--profile", profile, &image]);
    image
}

#[test]
fn demo_runs_on_both_profiles() {
    for profile in ["windows-vsc", "piv"] {
        let out = ok(&["demo", "--profile", profile]);
        // The seed's eleven steps, through the test CA's pages over HTTPS.
        for step in 1..=11 {
            assert!(out.contains(&format!("[{step}] ")), "{out}");
        }
        for want in [
            "request 1 issued",
            "https://127.0.0.1:",
            "[check] read the certificate back and sign a logon challenge",
        ] {
            assert!(out.contains(want), "{want:?} in {out}");
        }
        assert!(out.contains(" ms)") && out.contains("done in"), "{out}");
    }
}

#[test]
fn enrolled_requests_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "windows-vsc");
    let req = path_in(d, "req.pem");
    let out = ok(&[
        "enroll",
        &image,
        "--format",
        "pkcs10",
        "--hash",
        "sha256",
        "--subject",
        "CN=Jane Doe",
        "--out",
        &req,
    ]);
    assert!(out.contains("container: {"), "{out}");
    req_verifies(&openssl::run(
        d,
        &["req", "-verify", "-noout", "-in", "req.pem"],
    ));

    let cmc = path_in(d, "cmc.pem");
    ok(&["enroll", &image, "--container", "second", "--out", &cmc]);
    // The signer has no certificate yet: take the PKCS#10 out of the PKIData, have a CA
    // issue a certificate with its key identifier, and let OpenSSL verify the CMC with it.
    let outer = openssl::run(d, &["asn1parse", "-inform", "PEM", "-in", "cmc.pem"]);
    let outer = String::from_utf8_lossy(&outer.stdout).into_owned();
    let econtent = outer
        .lines()
        .find(|l| l.contains("d=5") && l.contains("OCTET STRING"))
        .and_then(|l| l.split(':').next())
        .expect("eContent")
        .trim()
        .to_owned();
    let data = openssl::run(
        d,
        &[
            "asn1parse",
            "-inform",
            "PEM",
            "-in",
            "cmc.pem",
            "-strparse",
            &econtent,
            "-noout",
            "-out",
            "pkidata.der",
        ],
    );
    assert!(
        data.status.success(),
        "{}",
        String::from_utf8_lossy(&data.stderr)
    );
    let parsed = openssl::run(d, &["asn1parse", "-inform", "DER", "-in", "pkidata.der"]);
    let text = String::from_utf8_lossy(&parsed.stdout);
    let line = text
        .lines()
        .skip_while(|l| !l.contains("d=2") || !l.contains("cont [ 0 ]"))
        .find(|l| l.contains("d=3") && l.contains("SEQUENCE"))
        .expect("the request in PKIData");
    let num = |key: &str| -> usize {
        let after = line.split(key).nth(1).unwrap().trim_start();
        after
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let offset: usize = line.split(':').next().unwrap().trim().parse().unwrap();
    let pkidata = std::fs::read(d.join("pkidata.der")).unwrap();
    let csr = &pkidata[offset..offset + num("hl=") + num(" l=")];
    std::fs::write(d.join("inner.der"), csr).unwrap();
    let v = openssl::run(
        d,
        &[
            "req",
            "-verify",
            "-noout",
            "-inform",
            "DER",
            "-in",
            "inner.der",
        ],
    );
    req_verifies(&v);
    std::fs::write(d.join("ski.ext"), "subjectKeyIdentifier=hash\n").unwrap();
    let steps: [&[&str]; 2] = [
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-subj",
            "/CN=CA", "-out", "ca.pem",
        ],
        &[
            "x509",
            "-req",
            "-inform",
            "DER",
            "-in",
            "inner.der",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "5",
            "-extfile",
            "ski.ext",
            "-out",
            "signer.pem",
        ],
    ];
    for args in steps {
        let o = openssl::run(d, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let v = openssl::run(
        d,
        &[
            "cms",
            "-verify",
            "-noverify",
            "-inform",
            "PEM",
            "-in",
            "cmc.pem",
            "-certfile",
            "signer.pem",
            "-out",
            "checked.der",
        ],
    );
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let listed = ok(&["cert", "list", &image]);
    assert!(
        listed.contains("second") && listed.contains("certificate: no"),
        "{listed}"
    );
}

#[test]
fn wrong_pin_fails_with_the_tries_left() {
    let dir = tempfile::tempdir().unwrap();
    let image = new_card(dir.path(), "piv");
    let out = softcard(&[
        "enroll",
        &image,
        "--pin",
        "00000000",
        "--out",
        &path_in(dir.path(), "r.pem"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("63C2") && err.contains("2 tries left"),
        "{err}"
    );
    let out = softcard(&["pin", "verify", &image, "--pin", "00000000"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 try left"));
    ok(&["pin", "verify", &image]);
}

#[test]
fn mismatching_certificate_is_refused_and_the_image_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "windows-vsc");
    let out = ok(&[
        "enroll",
        &image,
        "--format",
        "pkcs10",
        "--out",
        &path_in(d, "req.pem"),
    ]);
    let name = out
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("container: ")
        .to_owned();
    let other = openssl::self_signed(d, "k.pem", "/CN=Other", "other.pem", &[]);
    assert!(other.status.success());
    let before = std::fs::read(&image).unwrap();
    let out = softcard(&[
        "cert",
        "import",
        &image,
        "--container",
        &name,
        &path_in(d, "other.pem"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("certifies the key"));
    assert_eq!(std::fs::read(&image).unwrap(), before, "image changed");
}

#[test]
fn output_into_a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let image = new_card(dir.path(), "windows-vsc");
    let before = std::fs::read(&image).unwrap();
    let out = softcard(&[
        "enroll",
        &image,
        "--out",
        &path_in(dir.path(), "no/such/req.pem"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(std::fs::read(&image).unwrap(), before);
}

#[test]
fn sign_export_and_openssl_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["demo", "--profile", "piv", "--keep", d.to_str().unwrap()]);
    let image = path_in(d, "card.img");
    std::fs::write(d.join("msg"), b"hello").unwrap();
    ok(&[
        "sign",
        &image,
        "--container",
        "9D",
        "--in",
        &path_in(d, "msg"),
        "--out",
        &path_in(d, "sig"),
    ]);
    ok(&[
        "cert",
        "export",
        &image,
        "--container",
        "9d",
        "--out",
        &path_in(d, "exported.pem"),
    ]);
    assert_eq!(
        std::fs::read(d.join("exported.pem")).unwrap(),
        std::fs::read(d.join("cert.pem")).unwrap()
    );
    assert!(
        openssl::public_key_of(d, "exported.pem", "pub.pem")
            .status
            .success()
    );
    let v = openssl::dgst_verify(d, "pub.pem", "sig", "msg");
    assert!(String::from_utf8_lossy(&v.stdout).contains("Verified OK"));
    std::fs::write(d.join("msg"), b"hellO").unwrap();
    let v = openssl::dgst_verify(d, "pub.pem", "sig", "msg");
    assert!(!v.status.success());
}

/// A refused enrollment leaves the card image byte for byte as it was, prints no
/// generation progress, and leaves no output file behind.
#[test]
fn a_refused_enroll_leaves_the_image_unchanged() {
    for profile in ["windows-vsc", "piv"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let image = new_card(d, profile);
        let before = std::fs::read(&image).unwrap();
        let req = path_in(d, "req.pem");
        std::fs::create_dir(d.join("a-folder")).unwrap();
        let cases: [(&[&str], &str); 6] = [
            (
                &["--subject", "garbage no equals", "--out", &req],
                "missing '='",
            ),
            (&["--upn", "nobody", "--out", &req], "UPN"),
            (&["--out", &path_in(d, "a-folder")], "is a directory"),
            (
                &["--container", &"x".repeat(40), "--out", &req],
                "container",
            ),
            (&["--container", "9C", "--key", "p256", "--out", &req], ""),
            (&["--container", "9A", "--key", "p384", "--out", &req], ""),
        ];
        for (extra, expected) in cases {
            let mut args = vec!["enroll", image.as_str()];
            args.extend_from_slice(extra);
            let out = softcard(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            if profile == "piv" && (extra.contains(&"p256") || extra.contains(&"p384")) {
                // P-256 in 9C and P-384 in 9A are fine on PIV; those cases are for GIDS.
                assert!(out.status.success(), "{err}");
                continue;
            }
            assert!(!out.status.success(), "{profile} {extra:?} should fail");
            assert!(err.contains(expected), "{profile} {extra:?}: {err}");
            assert!(!err.contains("generating"), "{profile} {extra:?}: {err}");
            assert_eq!(
                std::fs::read(&image).unwrap(),
                before,
                "{profile} {extra:?}: image changed"
            );
            assert!(!d.join("req.pem").exists(), "{profile} {extra:?}");
        }
    }
}

#[test]
fn an_existing_container_is_refused_before_generating() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "piv");
    ok(&["enroll", &image, "--out", &path_in(d, "first.pem")]);
    let before = std::fs::read(&image).unwrap();
    std::fs::write(d.join("keep.pem"), b"old").unwrap();
    let out = softcard(&[
        "enroll",
        &image,
        "--container",
        "9D",
        "--out",
        &path_in(d, "keep.pem"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already exists") && !err.contains("generating"),
        "{err}"
    );
    assert_eq!(std::fs::read(&image).unwrap(), before);
    assert_eq!(
        std::fs::read(d.join("keep.pem")).unwrap(),
        b"old",
        "output untouched"
    );
}

#[test]
fn cmc_request_from_the_pin_always_slot_9c() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "piv");
    let out = ok(&[
        "enroll",
        &image,
        "--container",
        "9C",
        "--keyspec",
        "signature",
        "--format",
        "cmc",
        "--out",
        &path_in(d, "cmc.pem"),
    ]);
    assert!(out.contains("container: 9C"), "{out}");
    let parsed = openssl::run(
        d,
        &[
            "cms", "-cmsout", "-print", "-inform", "PEM", "-in", "cmc.pem",
        ],
    );
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let listed = ok(&["cert", "list", &image]);
    assert!(listed.contains("9C"), "{listed}");
}

/// `softcard enroll --key p384` on a PIV card: OpenSSL verifies the PKCS#10 request (the
/// secp384r1 key, ECDSA with the asked hash) and the CMC one.
#[test]
fn p384_requests_verify_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "piv");
    let out = ok(&[
        "enroll",
        &image,
        "--key",
        "p384",
        "--format",
        "pkcs10",
        "--hash",
        "sha384",
        "--out",
        &path_in(d, "req.pem"),
    ]);
    assert!(out.contains("container: 9D"), "{out}");
    let v = openssl::run(d, &["req", "-verify", "-noout", "-text", "-in", "req.pem"]);
    let text = String::from_utf8_lossy(&v.stdout);
    // OpenSSL 3.0 exits 0 on a bad signature too: its message tells.
    let said = String::from_utf8_lossy(&v.stderr);
    assert!(v.status.success() && said.contains("verify OK"), "{said}");
    for expected in ["ecdsa-with-SHA384", "NIST CURVE: P-384"] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    ok(&[
        "enroll",
        &image,
        "--key",
        "p384",
        "--container",
        "9A",
        "--keyspec",
        "signature",
        "--hash",
        "sha256",
        "--out",
        &path_in(d, "cmc.pem"),
    ]);
    let parsed = openssl::run(
        d,
        &[
            "cms", "-cmsout", "-print", "-inform", "PEM", "-in", "cmc.pem",
        ],
    );
    let printed = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert!(printed.contains("ecdsa-with-SHA256"), "{printed}");
    let info = ok(&["info", &image]);
    assert!(info.contains("ECC P-384"), "{info}");
}

/// `--subject` takes OpenSSL's `/C=US/O=Example/CN=Jane Doe` as well as RFC 4514, and the
/// request's subject is the same either way; a subject that does not parse names the
/// component at fault.
#[test]
fn enroll_takes_openssl_style_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = new_card(d, "piv");
    let mut subjects = Vec::new();
    for (container, subject) in [
        ("9A", "/C=US/O=Example, Inc./CN=Jane Doe+UID=jdoe"),
        ("9C", "CN=Jane Doe+UID=jdoe,O=Example\\, Inc.,C=US"),
    ] {
        let req = path_in(d, &format!("{container}.pem"));
        ok(&[
            "enroll",
            &image,
            "--container",
            container,
            "--format",
            "pkcs10",
            "--subject",
            subject,
            "--out",
            &req,
        ]);
        let out = openssl::run(
            d,
            &[
                "req", "-in", &req, "-noout", "-subject", "-nameopt", "RFC2253",
            ],
        );
        assert!(out.status.success());
        subjects.push(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    assert_eq!(subjects[0], subjects[1]);
    assert!(
        subjects[0].contains("UID=jdoe+CN=Jane Doe,O=Example\\, Inc.,C=US"),
        "{}",
        subjects[0]
    );
    let out = softcard(&[
        "enroll",
        &image,
        "--subject",
        "/CN=x/FOO=bar",
        "--out",
        &path_in(d, "bad.pem"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unknown attribute type \"FOO\""), "{err}");
}
