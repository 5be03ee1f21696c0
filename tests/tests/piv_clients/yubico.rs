//! Flows driven by yubico-piv-tool.

use softcard_tests::clients::{Route, Session};
use softcard_tests::openssl::{self, path_str};

use crate::{MGM_KEY, PIN, PUK, session};

/// `-a status`, `-a verify-pin` and its wrong twin, `-a change-pin`, `-a change-puk`.
pub fn status_and_pin(route: Route) {
    let Some(s) = session(route, 101, "yubico status and PIN") else {
        return;
    };
    let status = s.yubico(&["-a", "status"]).ok("status");
    assert!(
        status.stdout.contains("Version:\t5.4.3"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("PIN tries left:\t3"),
        "{}",
        status.stdout
    );

    let out = s.yubico(&["-a", "verify-pin", "-P", PIN]).ok("verify-pin");
    assert!(out.text().contains("Successfully verified PIN"));
    let out = s.yubico(&["-a", "verify-pin", "-P", "87654321"]);
    let out = out.fails("verify-pin with a wrong PIN");
    assert!(out.text().contains("2 tries left"), "{}", out.text());
    let status = s.yubico(&["-a", "status"]).ok("status");
    assert!(
        status.stdout.contains("PIN tries left:\t2"),
        "{}",
        status.stdout
    );
    s.yubico(&["-a", "verify-pin", "-P", PIN]).ok("verify-pin");
    let status = s.yubico(&["-a", "status"]).ok("status");
    assert!(
        status.stdout.contains("PIN tries left:\t3"),
        "{}",
        status.stdout
    );

    let out = s.yubico(&["-a", "change-pin", "-P", "00000000", "-N", "55555555"]);
    let out = out.fails("change-pin with a wrong PIN");
    assert!(out.text().contains("2 tries left"), "{}", out.text());
    s.yubico(&["-a", "change-pin", "-P", PIN, "-N", "11223344"])
        .ok("change-pin");
    s.yubico(&["-a", "verify-pin", "-P", PIN])
        .fails("verify-pin with the old PIN");
    s.yubico(&["-a", "verify-pin", "-P", "11223344"])
        .ok("verify-pin with the new PIN");

    let out = s.yubico(&["-a", "change-puk", "-P", "00000000", "-N", "55555555"]);
    let out = out.fails("change-puk with a wrong PUK");
    assert!(out.text().contains("2 tries left"), "{}", out.text());
    s.yubico(&["-a", "change-puk", "-P", PUK, "-N", "87654321"])
        .ok("change-puk");
    s.yubico(&["-a", "change-puk", "-P", PUK, "-N", "55555555"])
        .fails("change-puk with the old PUK");
    s.yubico(&["-a", "change-puk", "-P", "87654321", "-N", "55555555"])
        .ok("change-puk with the new PUK");
}

/// Blocking the PIN with three wrong tries, `-a unblock-pin` with a wrong PUK (fails),
/// then with the PUK.
pub fn unblock_pin(route: Route) {
    let Some(s) = session(route, 102, "yubico unblock-pin") else {
        return;
    };
    block_pin(&s);
    let out = s.yubico(&["-a", "verify-pin", "-P", PIN]);
    let out = out.fails("verify-pin with a blocked PIN");
    assert!(out.text().contains("blocked"), "{}", out.text());

    let out = s.yubico(&["-a", "unblock-pin", "-P", "99999999", "-N", "24682468"]);
    let out = out.fails("unblock-pin with a wrong PUK");
    assert!(out.text().contains("2 tries left"), "{}", out.text());
    s.yubico(&["-a", "verify-pin", "-P", "24682468"])
        .fails("verify-pin after a failed unblock");

    let out = s
        .yubico(&["-a", "unblock-pin", "-P", PUK, "-N", "24682468"])
        .ok("unblock-pin");
    assert!(
        out.text().contains("Successfully unblocked"),
        "{}",
        out.text()
    );
    s.yubico(&["-a", "verify-pin", "-P", "24682468"])
        .ok("verify-pin with the new PIN");
    let status = s.yubico(&["-a", "status"]).ok("status");
    assert!(
        status.stdout.contains("PIN tries left:\t3"),
        "{}",
        status.stdout
    );
}

/// Three wrong VERIFYs: the PIN is blocked.
pub fn block_pin(s: &Session) {
    for left in ["2 tries left", "1 tries left", "blocked"] {
        let out = s.yubico(&["-a", "verify-pin", "-P", "00000000"]);
        let out = out.fails("verify-pin with a wrong PIN");
        assert!(out.text().contains(left), "{}", out.text());
    }
}

/// Generates a key with the default management key, writing the public key (PEM) to
/// `<slot>.pub.pem`; returns that path.
pub fn generate(s: &Session, slot: &str, algorithm: &str) -> std::path::PathBuf {
    let public = s.path(&format!("{slot}.pub.pem"));
    let out = s
        .yubico(&[
            "-a",
            "generate",
            "-s",
            slot,
            "-A",
            algorithm,
            "-o",
            path_str(&public),
        ])
        .ok("generate");
    assert!(
        out.text().contains("Successfully generated"),
        "{}",
        out.text()
    );
    public
}

/// Generates a key, certifies it on the host and imports the certificate; returns the
/// public key's and the certificate's paths.
pub fn key_with_certificate(
    s: &Session,
    slot: &str,
    algorithm: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let public = generate(s, slot, algorithm);
    let cert = install_certificate(s, slot, &public, &format!("slot{slot}"));
    (public, cert)
}

/// Has openssl certify the key `public` (certificate file `NAME.crt.pem`, returned) and
/// stores the certificate in `slot` with `-a import-certificate`.
pub fn install_certificate(
    s: &Session,
    slot: &str,
    public: &std::path::Path,
    name: &str,
) -> std::path::PathBuf {
    let cert = openssl::certificate_for(&s.path(""), public, name);
    s.yubico(&[
        "-a",
        "import-certificate",
        "-s",
        slot,
        "-i",
        path_str(&cert),
    ])
    .ok("import-certificate");
    cert
}

/// `-a generate` (RSA2048, ECCP256), `-a selfsign-certificate`, `-a import-certificate`,
/// `-a read-certificate`, `-a test-signature`, `-a test-decipher`.
pub fn keys_and_certificates(route: Route) {
    let Some(s) = session(route, 103, "yubico keys and certificates") else {
        return;
    };
    let dir = s.path("");
    let public = generate(&s, "9a", "RSA2048");
    let text = openssl::run(&dir, &["pkey", "-pubin", "-in", path_str(&public), "-text"]);
    assert!(text.ok("openssl pkey").stdout.contains("(2048 bit)"));

    selfsign(&s, &public);

    let cert = openssl::certificate_for(&dir, &public, "slot9a");
    s.yubico(&[
        "-a",
        "import-certificate",
        "-s",
        "9a",
        "-i",
        path_str(&cert),
    ])
    .ok("import-certificate");
    let read = s.path("read9a.pem");
    s.yubico(&["-a", "read-certificate", "-s", "9a", "-o", path_str(&read)])
        .ok("read-certificate");
    assert_eq!(
        std::fs::read_to_string(&read).unwrap(),
        std::fs::read_to_string(&cert).unwrap(),
        "the certificate reads back as imported"
    );
    let cert_arg = path_str(&cert);
    let out = s.yubico(&["-a", "test-signature", "-s", "9a", "-i", cert_arg]);
    out.fails("test-signature without the PIN");
    let out = s
        .yubico(&[
            "-a",
            "verify-pin",
            "-P",
            PIN,
            "-a",
            "test-signature",
            "-s",
            "9a",
            "-i",
            cert_arg,
        ])
        .ok("test-signature 9a");
    assert!(
        out.text().contains("Successful RSA verification"),
        "{}",
        out.text()
    );

    let (_, cert9d) = key_with_certificate(&s, "9d", "RSA2048");
    let out = s
        .yubico(&[
            "-a",
            "verify-pin",
            "-P",
            PIN,
            "-a",
            "test-decipher",
            "-s",
            "9d",
            "-i",
            path_str(&cert9d),
        ])
        .ok("test-decipher 9d");
    assert!(
        out.text().contains("Successfully performed RSA decryption"),
        "{}",
        out.text()
    );

    let (public9c, cert9c) = key_with_certificate(&s, "9c", "ECCP256");
    let text = openssl::run(
        &dir,
        &["pkey", "-pubin", "-in", path_str(&public9c), "-text"],
    );
    assert!(text.ok("openssl pkey").stdout.contains("prime256v1"));
    let out = s
        .yubico(&[
            "-a",
            "verify-pin",
            "-P",
            PIN,
            "-a",
            "test-signature",
            "-s",
            "9c",
            "-i",
            path_str(&cert9c),
        ])
        .ok("test-signature 9c");
    assert!(
        out.text().contains("Successful ECDSA verification"),
        "{}",
        out.text()
    );

    let status = s.yubico(&["-a", "status"]).ok("status").stdout;
    for slot in ["9a", "9c", "9d"] {
        assert!(status.contains(&format!("Slot {slot}:")), "{status}");
    }
    assert!(status.contains("CN=slot9c"), "{status}");
}

/// `-a selfsign-certificate`: a certificate signed by the card's key, or, with
/// yubico-piv-tool 2.2.0 on OpenSSL 3, the client's own failure before it sends the card
/// anything to sign (no GENERAL AUTHENTICATE in its APDU trace).
fn selfsign(s: &Session, public: &std::path::Path) {
    let cert = s.path("self.pem");
    let out = s.yubico(&[
        "--verbose=2",
        "-a",
        "verify-pin",
        "-P",
        PIN,
        "-a",
        "selfsign-certificate",
        "-s",
        "9a",
        "-S",
        "/CN=test/",
        "-i",
        path_str(public),
        "-o",
        path_str(&cert),
    ]);
    if out.success {
        let dir = s.path("");
        let key = openssl::public_key_of(&dir, &cert);
        assert_eq!(key, std::fs::read_to_string(public).unwrap());
        let c = path_str(&cert);
        openssl::run(&dir, &["verify", "-CAfile", c, c]).ok("openssl verify self-signed");
    } else {
        let text = out.text();
        assert!(text.contains("Failed signing certificate"), "{text}");
        assert!(
            !text.contains("> 00 87"),
            "the card was asked to sign: {text}"
        );
    }
}

/// `-a set-mgm-key -n NEW`: afterwards the old key is refused and the new one works.
pub fn management_key(route: Route) {
    let Some(s) = session(route, 104, "yubico set-mgm-key") else {
        return;
    };
    const NEW: &str = "8a4f2c9d1e7b6053a2c4e6f80b1d3f5749b8d6e2c0a1f3e5";
    let wrong = format!("--key={NEW}");
    s.yubico(&[&wrong, "-a", "set-mgm-key", "-n", MGM_KEY])
        .fails("set-mgm-key authenticated with a wrong key");
    let out = s
        .yubico(&["-a", "set-mgm-key", "-n", NEW])
        .ok("set-mgm-key");
    assert!(out.text().contains("Successfully set new management key"));

    let out = s.yubico(&["-a", "generate", "-s", "9e", "-A", "ECCP256"]);
    let out = out.fails("generate with the old management key");
    assert!(
        out.text().contains("Failed authentication"),
        "{}",
        out.text()
    );
    let out = s.yubico(&[&format!("--key={MGM_KEY}"), "-a", "generate", "-s", "9e"]);
    out.fails("generate with the old management key given explicitly");
    let out = s
        .yubico(&[
            &format!("--key={NEW}"),
            "-a",
            "generate",
            "-s",
            "9e",
            "-A",
            "ECCP256",
        ])
        .ok("generate with the new management key");
    assert!(out.stdout.contains("BEGIN PUBLIC KEY"), "{}", out.stdout);
}

/// `-a attest` for an RSA and an EC key: the attestation certificate carries the slot's
/// public key and verifies against the F9 certificate (`-a read-certificate -s f9`).
pub fn attestation(route: Route) {
    let Some(s) = session(route, 105, "yubico attest") else {
        return;
    };
    let dir = s.path("");
    let f9 = s.path("f9.pem");
    s.yubico(&["-a", "read-certificate", "-s", "f9", "-o", path_str(&f9)])
        .ok("read-certificate f9");
    s.yubico(&["-a", "attest", "-s", "9a"])
        .fails("attest an empty slot");
    for (slot, algorithm) in [("9a", "RSA2048"), ("9c", "ECCP256"), ("9d", "ECCP384")] {
        let public = generate(&s, slot, algorithm);
        let att = s.path(&format!("att{slot}.pem"));
        s.yubico(&["-a", "attest", "-s", slot, "-o", path_str(&att)])
            .ok("attest");
        assert_eq!(
            openssl::public_key_of(&dir, &att),
            std::fs::read_to_string(&public).unwrap(),
            "the attested key is the generated one"
        );
        let verify = openssl::run(
            &dir,
            &[
                "verify",
                "-partial_chain",
                "-CAfile",
                path_str(&f9),
                path_str(&att),
            ],
        );
        assert!(verify.ok("openssl verify").stdout.contains(": OK"));
        let subject = openssl::run(&dir, &["x509", "-in", path_str(&att), "-noout", "-subject"]);
        let subject = subject.ok("openssl x509 -subject").stdout;
        assert!(
            subject.contains(&format!("YubiKey PIV Attestation {slot}")),
            "{subject}"
        );
        // The twin: the chain does not verify against another issuer.
        let other = openssl::certificate_for(&dir, &public, "other");
        let verify = openssl::run(
            &dir,
            &[
                "verify",
                "-partial_chain",
                "-CAfile",
                path_str(&other),
                path_str(&att),
            ],
        );
        verify.fails("openssl verify against a foreign issuer");
    }
}

/// `-a reset`: refused while PIN or PUK is not blocked, then restores the defaults (PIN,
/// PUK, management key; keys and certificates gone).
pub fn reset(route: Route) {
    let Some(s) = session(route, 106, "yubico reset") else {
        return;
    };
    key_with_certificate(&s, "9a", "ECCP256");
    const NEW_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
    s.yubico(&["-a", "set-mgm-key", "-n", NEW_KEY])
        .ok("set-mgm-key");
    s.yubico(&["-a", "change-pin", "-P", PIN, "-N", "13572468"])
        .ok("change-pin");

    let out = s
        .yubico(&["-a", "reset"])
        .fails("reset with PIN and PUK usable");
    assert!(out.text().contains("Reset failed"), "{}", out.text());
    block_pin(&s);
    s.yubico(&["-a", "reset"])
        .fails("reset with the PUK usable");
    for _ in 0..3 {
        s.yubico(&["-a", "unblock-pin", "-P", "00000000", "-N", PIN])
            .fails("unblock-pin with a wrong PUK");
    }
    let out = s.yubico(&["-a", "unblock-pin", "-P", PUK, "-N", PIN]);
    let out = out.fails("unblock-pin with a blocked PUK");
    assert!(out.text().contains("blocked"), "{}", out.text());

    let out = s.yubico(&["-a", "reset"]).ok("reset");
    assert!(out.text().contains("Successfully reset"), "{}", out.text());
    let status = s.yubico(&["-a", "status"]).ok("status").stdout;
    assert!(status.contains("PIN tries left:\t3"), "{status}");
    assert!(!status.contains("Slot 9a"), "{status}");
    s.yubico(&["-a", "read-certificate", "-s", "9a"])
        .fails("read-certificate after reset");
    s.yubico(&["-a", "verify-pin", "-P", PIN]).ok("default PIN");
    s.yubico(&["-a", "change-puk", "-P", PUK, "-N", PUK])
        .ok("default PUK");
    s.yubico(&[&format!("--key={NEW_KEY}"), "-a", "generate", "-s", "9e"])
        .fails("the old management key after reset");
    s.yubico(&["-a", "generate", "-s", "9e", "-A", "ECCP256"])
        .ok("the default management key after reset");
}

/// P-384 (`-A ECCP384`, algorithm 14), as YubiKeys from 4.0 have it: `-a generate` in 9A
/// and 9D with certificates, `-a status` naming the algorithm, `-a test-signature` (fails
/// without the PIN), `-a test-decipher` (ECDH with a host key; fails without the PIN),
/// `-a attest` verified against the F9 certificate, and `-a import-key` of an OpenSSL P-384
/// key.
pub fn p384_keys(route: Route) {
    let Some(s) = session(route, 109, "yubico P-384") else {
        return;
    };
    let dir = s.path("");
    let (public9a, cert9a) = key_with_certificate(&s, "9a", "ECCP384");
    let text = openssl::run(
        &dir,
        &["pkey", "-pubin", "-in", path_str(&public9a), "-text"],
    );
    let text = text.ok("openssl pkey").stdout;
    assert!(text.contains("NIST CURVE: P-384"), "{text}");

    s.yubico(&["-a", "test-signature", "-s", "9a", "-i", path_str(&cert9a)])
        .fails("test-signature without the PIN");
    let out = with_pin(&s, "test-signature", "9a", &cert9a).ok("test-signature 9a");
    assert!(
        out.text().contains("Successful ECDSA verification"),
        "{}",
        out.text()
    );

    let (_, cert9d) = key_with_certificate(&s, "9d", "ECCP384");
    s.yubico(&["-a", "test-decipher", "-s", "9d", "-i", path_str(&cert9d)])
        .fails("test-decipher without the PIN");
    let out = with_pin(&s, "test-decipher", "9d", &cert9d).ok("test-decipher 9d");
    assert!(
        out.text()
            .contains("Successfully performed ECDH exchange with card"),
        "{}",
        out.text()
    );
    let status = s.yubico(&["-a", "status"]).ok("status").stdout;
    assert_eq!(status.matches("Algorithm:\tECCP384").count(), 2, "{status}");
    // Attestation of a P-384 key: see `attestation`.

    // An OpenSSL P-384 key imported into 9E (PIN policy never there).
    let cert9e = crate::flows_yubico_import::import_with_certificate(
        &s,
        "9e",
        "p384",
        &["EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        &[],
    );
    let out = s
        .yubico(&["-a", "test-signature", "-s", "9e", "-i", path_str(&cert9e)])
        .ok("test-signature 9e without the PIN");
    assert!(
        out.text().contains("Successful ECDSA verification"),
        "{}",
        out.text()
    );
    s.yubico(&["-a", "attest", "-s", "9e"])
        .fails("attest an imported key");
}

/// `-a verify-pin -P PIN -a ACTION -s SLOT -i CERT`: an action that needs the PIN, in one
/// run (the PIN verification lasts for that process's session only).
pub fn with_pin(
    s: &Session,
    action: &str,
    slot: &str,
    cert: &std::path::Path,
) -> softcard_tests::clients::Output {
    s.yubico(&[
        "-a",
        "verify-pin",
        "-P",
        PIN,
        "-a",
        action,
        "-s",
        slot,
        "-i",
        path_str(cert),
    ])
}
