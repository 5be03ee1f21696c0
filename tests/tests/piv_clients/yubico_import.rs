//! yubico-piv-tool flows beyond key generation: imported keys and their PIN policies,
//! PIN retry counters, data objects.

use softcard_tests::clients::Route;
use softcard_tests::openssl::{self, path_str};

use crate::flows_yubico::{install_certificate, with_pin};
use crate::{PIN, session};

/// Makes a key with `openssl genpkey -algorithm ALGORITHM...` (files `NAME.key`,
/// `NAME.pub.pem`), imports it into `slot` with `-a import-key` and `extra` options, and
/// stores a certificate for it (`importedSLOT.crt.pem`, returned).
pub fn import_with_certificate(
    s: &softcard_tests::clients::Session,
    slot: &str,
    name: &str,
    algorithm: &[&str],
    extra: &[&str],
) -> std::path::PathBuf {
    let dir = s.path("");
    let key = s.path(&format!("{name}.key"));
    let mut genpkey = vec!["genpkey", "-algorithm"];
    genpkey.extend_from_slice(algorithm);
    genpkey.extend_from_slice(&["-out", path_str(&key)]);
    openssl::run(&dir, &genpkey).ok("openssl genpkey");
    let public = s.path(&format!("{name}.pub.pem"));
    openssl::run(
        &dir,
        &[
            "pkey",
            "-in",
            path_str(&key),
            "-pubout",
            "-out",
            path_str(&public),
        ],
    )
    .ok("openssl pkey -pubout");
    let mut args = vec!["-a", "import-key", "-s", slot, "-i", path_str(&key)];
    args.extend_from_slice(extra);
    let out = s.yubico(&args).ok("import-key");
    assert!(
        out.text().contains("Successfully imported"),
        "{}",
        out.text()
    );
    install_certificate(s, slot, &public, &format!("imported{slot}"))
}

/// `-a import-key` with `--pin-policy=never` (usable without the PIN) and with the
/// slot's default (not usable without it); imported keys are not attested.
pub fn import_key(route: Route) {
    let Some(s) = session(route, 107, "yubico import-key") else {
        return;
    };
    for (slot, name) in [("9a", "never"), ("9d", "default")] {
        let policy: &[&str] = if name == "never" {
            &["--pin-policy=never"]
        } else {
            &[]
        };
        import_with_certificate(
            &s,
            slot,
            name,
            &["RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            policy,
        );
    }
    let cert9a = s.path("imported9a.crt.pem");
    let out = s
        .yubico(&["-a", "test-signature", "-s", "9a", "-i", path_str(&cert9a)])
        .ok("test-signature without the PIN, policy never");
    assert!(
        out.text().contains("Successful RSA verification"),
        "{}",
        out.text()
    );
    let cert9d = s.path("imported9d.crt.pem");
    s.yubico(&["-a", "test-decipher", "-s", "9d", "-i", path_str(&cert9d)])
        .fails("test-decipher without the PIN, default policy");
    with_pin(&s, "test-decipher", "9d", &cert9d).ok("test-decipher with the PIN");
    s.yubico(&["-a", "attest", "-s", "9a"])
        .fails("attest an imported key");
}

/// `-a pin-retries` needs the PIN (twin without it), sets both counters and restores
/// the default PIN; `-a write-object` / `-a read-object` round trip.
pub fn retries_and_objects(route: Route) {
    let Some(s) = session(route, 108, "yubico pin-retries and objects") else {
        return;
    };
    s.yubico(&["-a", "pin-retries", "--pin-retries=5", "--puk-retries=4"])
        .fails("pin-retries without the PIN");
    s.yubico(&["-a", "change-pin", "-P", PIN, "-N", "99887766"])
        .ok("change-pin");
    s.yubico(&[
        "-a",
        "verify-pin",
        "-P",
        "99887766",
        "-a",
        "pin-retries",
        "--pin-retries=5",
        "--puk-retries=4",
    ])
    .ok("pin-retries");
    let status = s.yubico(&["-a", "status"]).ok("status").stdout;
    assert!(status.contains("PIN tries left:\t5"), "{status}");
    s.yubico(&["-a", "verify-pin", "-P", PIN])
        .ok("the default PIN again");

    let data = s.path("object.bin");
    std::fs::write(&data, b"softcard data object\x00\xff").unwrap();
    let id = "--id=0x5fc10d";
    s.yubico(&["-a", "read-object", id, "-f", "binary"])
        .fails("read-object of an empty object");
    s.yubico(&[
        "-a",
        "write-object",
        id,
        "-f",
        "binary",
        "-i",
        path_str(&data),
    ])
    .ok("write-object");
    let back = s.path("back.bin");
    s.yubico(&[
        "-a",
        "read-object",
        id,
        "-f",
        "binary",
        "-o",
        path_str(&back),
    ])
    .ok("read-object");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&data).unwrap());
}
