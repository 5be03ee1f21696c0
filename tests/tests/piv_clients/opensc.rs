//! Flows driven by OpenSC (opensc-tool, piv-tool, pkcs15-tool, pkcs11-tool), and the
//! card's state across a restart.

use std::ffi::OsStr;

use softcard_tests::clients::Route;
use softcard_tests::openssl::{self, path_str};

use crate::flows_yubico::{key_with_certificate, with_pin};
use crate::{MGM_KEY, PIN, session};

/// `opensc-tool -n` names the card; `piv-tool -A M:9B:03` (mutual) and `-A A:9B:03`
/// (external) with the default management key, and their wrong-key twins.
pub fn name_and_admin_auth(route: Route) {
    let Some(s) = session(route, 201, "opensc name and admin auth") else {
        return;
    };
    let out = s.run("opensc-tool", &["-n"]).ok("opensc-tool -n");
    assert!(
        out.stdout.contains("Personal Identity Verification Card"),
        "{}",
        out.stdout
    );

    let good = s.path("mgm.key");
    std::fs::write(&good, format!("{MGM_KEY}\n")).unwrap();
    let bad = s.path("wrong.key");
    std::fs::write(&bad, "0102030405060708010203040506070801020304050607ff\n").unwrap();
    let piv_tool = |key: &std::path::Path, mode: &str| {
        let env = [("PIV_EXT_AUTH_KEY", key.as_os_str())];
        s.run_env("piv-tool", &["-A", mode], &env)
    };

    piv_tool(&good, "M:9B:03").ok("piv-tool -A M:9B:03");
    let out = piv_tool(&bad, "M:9B:03").fails("piv-tool -A M:9B:03 with a wrong key");
    // -1211: SC_ERROR_SECURITY_STATUS_NOT_SATISFIED, the card's 6982.
    assert!(
        out.text().contains("admin_mode failed -1211"),
        "{}",
        out.text()
    );

    let out = piv_tool(&good, "A:9B:03");
    if !out.success {
        // OpenSC 0.23: an internal error before the response is sent (see the crate doc).
        assert!(
            out.text().contains("admin_mode failed -1400"),
            "{}",
            out.text()
        );
    }
    piv_tool(&bad, "A:9B:03").fails("piv-tool -A A:9B:03 with a wrong key");

    let empty = s.path("empty.key");
    std::fs::write(&empty, "").unwrap();
    let env = [("PIV_EXT_AUTH_KEY", OsStr::new(path_str(&empty)))];
    s.run_env("piv-tool", &["-A", "M:9B:03"], &env)
        .fails("piv-tool with an empty key file");
}

/// Keys in 9A (RSA-2048), 9C (P-256) and 9D (RSA-2048) with certificates, listed by
/// pkcs15-tool and pkcs11-tool, used for RSA-PKCS, SHA256-RSA-PKCS and ECDSA signatures
/// and RSA-PKCS decryption, each result checked with openssl; wrong and blocked PIN.
pub fn pkcs15_and_pkcs11(route: Route) {
    let Some(s) = session(route, 202, "opensc pkcs15 and pkcs11") else {
        return;
    };
    let dir = s.path("");
    let (pub9a, _) = key_with_certificate(&s, "9a", "RSA2048");
    let (pub9c, _) = key_with_certificate(&s, "9c", "ECCP256");
    let (pub9d, _) = key_with_certificate(&s, "9d", "RSA2048");

    let dump = s.run("pkcs15-tool", &["-D"]).ok("pkcs15-tool -D").stdout;
    for needle in [
        "Manufacturer ID: piv_II",
        "Private RSA Key [PIV AUTH key]",
        "Private EC Key [SIGN key]",
        "Private RSA Key [KEY MAN key]",
        "X.509 Certificate [Certificate for PIV Authentication]",
        "X.509 Certificate [Certificate for Digital Signature]",
        "X.509 Certificate [Certificate for Key Management]",
    ] {
        assert!(dump.contains(needle), "{needle} missing:\n{dump}");
    }
    let slots = s.pkcs11(&["-L"]).ok("pkcs11-tool -L").stdout;
    assert!(slots.contains(s.reader()), "{slots}");
    assert!(slots.contains("token manufacturer : piv_II"), "{slots}");
    let objects = s.pkcs11(&["-O"]).ok("pkcs11-tool -O").stdout;
    for cn in ["CN=slot9a", "CN=slot9c", "CN=slot9d"] {
        assert!(objects.contains(cn), "{cn} missing:\n{objects}");
    }
    assert!(objects.contains("RSA 2048 bits"), "{objects}");
    assert!(objects.contains("EC_POINT 256 bits"), "{objects}");

    let data = s.path("data.bin");
    std::fs::write(&data, b"softcard signs this message for pkcs11-tool").unwrap();
    let digest = s.path("digest.bin");
    openssl::run(
        &dir,
        &[
            "dgst",
            "-sha256",
            "-binary",
            "-out",
            path_str(&digest),
            path_str(&data),
        ],
    )
    .ok("openssl dgst");
    let sign = |mechanism: &str, id: &str, input: &std::path::Path, extra: &[&str]| {
        let sig = s.path(&format!("{mechanism}-{id}.sig"));
        let mut args = vec![
            "--login", "--pin", PIN, "--sign", "-m", mechanism, "--id", id, "-i",
        ];
        args.extend([path_str(input), "-o", path_str(&sig)]);
        args.extend_from_slice(extra);
        s.pkcs11(&args).ok(mechanism);
        sig
    };

    let sig = sign("SHA256-RSA-PKCS", "01", &data, &[]);
    assert!(openssl::verify_sha256(&dir, &pub9a, &data, &sig));
    assert!(
        !openssl::verify_sha256(&dir, &pub9d, &data, &sig),
        "other key"
    );
    let sig = sign("RSA-PKCS", "01", &digest, &[]);
    assert!(openssl::verify_raw(&dir, &pub9a, &digest, &sig));
    assert!(
        !openssl::verify_raw(&dir, &pub9a, &data, &sig),
        "other input"
    );

    // 9C needs the PIN for every operation: OpenSC logs in again (context specific).
    let sig = sign("ECDSA", "02", &digest, &["--signature-format", "openssl"]);
    assert!(openssl::verify_raw(&dir, &pub9c, &digest, &sig));
    let raw = sign("ECDSA", "02", &digest, &[]);
    let raw = std::fs::read(raw).unwrap();
    assert_eq!(raw.len(), 64, "r || s");
    let der = s.path("ecdsa.der");
    std::fs::write(&der, openssl::ecdsa_der(&raw)).unwrap();
    assert!(openssl::verify_raw(&dir, &pub9c, &digest, &der));
    let sig = sign(
        "ECDSA-SHA256",
        "02",
        &data,
        &["--signature-format", "openssl"],
    );
    assert!(openssl::verify_sha256(&dir, &pub9c, &data, &sig));

    let plain = s.path("plain.txt");
    std::fs::write(&plain, b"a secret for the key management key").unwrap();
    let cipher = s.path("cipher.bin");
    openssl::encrypt_rsa(&dir, &pub9d, &plain, &cipher);
    let back = s.path("back.txt");
    let args = [
        "--login",
        "--pin",
        PIN,
        "--decrypt",
        "-m",
        "RSA-PKCS",
        "--id",
        "03",
        "-i",
        path_str(&cipher),
        "-o",
        path_str(&back),
    ];
    s.pkcs11(&args).ok("decrypt RSA-PKCS");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&plain).unwrap()
    );

    let test = s
        .pkcs11(&["--login", "--pin", PIN, "--test"])
        .ok("pkcs11-tool --test");
    assert!(test.text().contains("No errors"), "{}", test.text());

    // The failing twins: without login, with a wrong PIN, with a blocked PIN.
    let args = [
        "--sign",
        "-m",
        "SHA256-RSA-PKCS",
        "--id",
        "01",
        "-i",
        path_str(&data),
    ];
    s.pkcs11(&args).fails("sign without login");
    for _ in 0..3 {
        let mut args = vec!["--login", "--pin", "87654321"];
        args.extend([
            "--sign",
            "-m",
            "SHA256-RSA-PKCS",
            "--id",
            "01",
            "-i",
            path_str(&data),
        ]);
        let out = s.pkcs11(&args).fails("sign with a wrong PIN");
        assert!(out.text().contains("CKR_PIN_"), "{}", out.text());
    }
    let out = s.pkcs11(&[
        "--login", "--pin", PIN, "--sign", "-m", "RSA-PKCS", "--id", "01",
    ]);
    let out = out.fails("login with a blocked PIN");
    assert!(out.text().contains("CKR_PIN_LOCKED"), "{}", out.text());
}

/// Keys, certificates and the PIN counter read back identically after the card is taken
/// away and served again by a new process.
pub fn state_survives_a_restart(route: Route) {
    let Some(mut s) = session(route, 203, "restart") else {
        return;
    };
    let (_, cert9a) = key_with_certificate(&s, "9a", "RSA2048");
    key_with_certificate(&s, "9c", "ECCP256");
    s.yubico(&["-a", "verify-pin", "-P", "00000000"])
        .fails("verify-pin with a wrong PIN");
    let before = snapshot(&s);
    assert!(before.contains("PIN tries left:\t2"), "{before}");
    let image = std::fs::read(s.image()).unwrap();

    s.restart();
    let after = snapshot(&s);
    assert_eq!(before, after);
    assert_eq!(
        image,
        std::fs::read(s.image()).unwrap(),
        "reading changes nothing"
    );
    with_pin(&s, "test-signature", "9a", &cert9a).ok("test-signature after the restart");
}

/// What the clients read from the card: status (CHUID, CCC, slots, PIN tries), the
/// certificates, the public keys OpenSC derives.
fn snapshot(s: &softcard_tests::clients::Session) -> String {
    let mut all = s.yubico(&["-a", "status"]).ok("status").stdout;
    for slot in ["9a", "9c"] {
        all += &s
            .yubico(&["-a", "read-certificate", "-s", slot])
            .ok("read-certificate")
            .stdout;
    }
    for id in ["01", "02"] {
        all += &s
            .run("pkcs15-tool", &["--read-public-key", id])
            .ok("pkcs15-tool --read-public-key")
            .stdout;
    }
    all
}

/// P-384 keys (generated by yubico-piv-tool `-A ECCP384`, with certificates) through
/// OpenSC: pkcs15-tool and pkcs11-tool list them, `pkcs11-tool --sign -m ECDSA` of a SHA-384
/// digest (DER and raw `r || s`) and `-m ECDSA-SHA384` of the data, each checked by openssl
/// (9C, PIN always, signs each time through OpenSC's context-specific login); a wrong PIN
/// fails.
pub fn pkcs11_p384(route: Route) {
    let Some(s) = session(route, 204, "opensc P-384") else {
        return;
    };
    let dir = s.path("");
    let (pub9a, _) = key_with_certificate(&s, "9a", "ECCP384");
    let (pub9c, _) = key_with_certificate(&s, "9c", "ECCP384");
    let dump = s.run("pkcs15-tool", &["-D"]).ok("pkcs15-tool -D").stdout;
    for needle in ["Private EC Key [PIV AUTH key]", "Private EC Key [SIGN key]"] {
        assert!(dump.contains(needle), "{needle} missing:\n{dump}");
    }
    let objects = s.pkcs11(&["-O"]).ok("pkcs11-tool -O").stdout;
    assert!(objects.contains("EC_POINT 384 bits"), "{objects}");

    let data = s.path("data.bin");
    std::fs::write(&data, b"softcard signs this with P-384").unwrap();
    let digest = s.path("digest.bin");
    openssl::run(
        &dir,
        &[
            "dgst",
            "-sha384",
            "-binary",
            "-out",
            path_str(&digest),
            path_str(&data),
        ],
    )
    .ok("openssl dgst -sha384");
    let sign = |mechanism: &str, id: &str, input: &std::path::Path, format: &[&str]| {
        let sig = s.path(&format!("{mechanism}-{id}-{}.sig", format.len()));
        let mut args = vec![
            "--login", "--pin", PIN, "--sign", "-m", mechanism, "--id", id, "-i",
        ];
        args.extend([path_str(input), "-o", path_str(&sig)]);
        args.extend_from_slice(format);
        s.pkcs11(&args).ok(mechanism);
        sig
    };
    let openssl_format: &[&str] = &["--signature-format", "openssl"];
    for (id, public, other) in [("01", &pub9a, &pub9c), ("02", &pub9c, &pub9a)] {
        let sig = sign("ECDSA", id, &digest, openssl_format);
        assert!(openssl::verify_raw(&dir, public, &digest, &sig), "{id}");
        assert!(!openssl::verify_raw(&dir, other, &digest, &sig), "{id}");
        assert!(!openssl::verify_raw(&dir, public, &data, &sig), "{id}");
        let raw = std::fs::read(sign("ECDSA", id, &digest, &[])).unwrap();
        assert_eq!(raw.len(), 96, "r || s of P-384");
        let der = s.path(&format!("ecdsa-{id}.der"));
        std::fs::write(&der, openssl::ecdsa_der(&raw)).unwrap();
        assert!(openssl::verify_raw(&dir, public, &digest, &der), "{id}");
    }
    let sig = sign("ECDSA-SHA384", "01", &data, openssl_format);
    let verify = openssl::run(
        &dir,
        &[
            "dgst",
            "-sha384",
            "-verify",
            path_str(&pub9a),
            "-signature",
            path_str(&sig),
            path_str(&data),
        ],
    );
    assert!(
        verify
            .ok("openssl dgst -sha384 -verify")
            .stdout
            .contains("Verified OK")
    );

    let out = s.pkcs11(&[
        "--login",
        "--pin",
        "87654321",
        "--sign",
        "-m",
        "ECDSA",
        "--id",
        "01",
        "-i",
        path_str(&digest),
    ]);
    let out = out.fails("sign with a wrong PIN");
    assert!(out.text().contains("CKR_PIN_INCORRECT"), "{}", out.text());
}
