//! OpenSC's tools on a GIDS card (the `windows-vsc` profile) as the end-to-end tests use
//! them: APDUs through `opensc-tool -s`, PIN state through `pkcs15-tool`, logins, key
//! operations and certificates through `pkcs11-tool`, checked with OpenSSL.

use std::path::Path;

use crate::clients::{Output, Route, Session};
use crate::gids_image::GidsImage;
use crate::openssl::{self, path_str};

/// The user PIN a card is created with.
pub const DEFAULT_PIN: &str = "12345678";

/// The reader OpenSC shows a GIDS card in.
pub fn reader(route: Route) -> &'static str {
    match route {
        Route::DropIn => "softcard GIDS 00 00",
        Route::Pcscd => crate::peer::READER_0,
    }
}

/// The status words of APDUs (hex) sent by `opensc-tool -s`, in order.
pub fn status_words(s: &Session, apdus: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for apdu in apdus {
        args.extend(["-s", apdu]);
    }
    let out = s.run("opensc-tool", &args).ok("opensc-tool -s");
    out.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Received (SW1=0x"))
        .map(|l| l.replace(", SW2=0x", "").chars().take(4).collect())
        .collect()
}

/// VERIFY of the user PIN, as an APDU in hex.
pub fn verify(pin: &str) -> String {
    let hex: String = pin.bytes().map(|b| format!("{b:02X}")).collect();
    format!("00200080{:02X}{hex}", pin.len())
}

/// The tries left on the user PIN, as `pkcs15-tool --list-pins` reports them.
pub fn tries_left(s: &Session) -> u32 {
    let out = s.run("pkcs15-tool", &["--list-pins"]).ok("pkcs15-tool");
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tries left"))
        .and_then(|v| v.trim_start_matches([' ', ':']).trim().parse().ok())
        .unwrap_or_else(|| panic!("no tries left in:\n{}", out.text()))
}

/// Tries and limit of the user PIN in the image (GET DATA 7F71: `97 01 tries 93 01 max`).
pub fn pin_status_in_image(image: &Path) -> (u8, u8) {
    let value = GidsImage::load(image)
        .get_data(0x3FFF, 0x7F71)
        .expect("PIN status DO");
    assert_eq!(value.len(), 6, "7F71 value: {value:02X?}");
    (value[2], value[5])
}

/// Logs in with `pin` through PKCS#11 and lists the objects.
pub fn login(s: &Session, pin: &str) -> Output {
    s.pkcs11(&["--login", "--pin", pin, "--list-objects"])
}

/// Runs `gids-tool ARGS`.
pub fn gids_tool(s: &Session, args: &[&str]) -> Output {
    s.run("gids-tool", args)
}

/// Bytes as lower-case hex.
pub fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes as OpenSC prints them (`3b:8d:...`).
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Hex (as written in these tests) to bytes.
///
/// # Panics
/// On a character that is not a hex digit.
pub fn hex_bytes(hex: &str) -> Vec<u8> {
    softcard_test_support::hex::parse(hex).expect("hex")
}

/// SHA256-RSA-PKCS over a message and RSA-PKCS over a DigestInfo by the key with PKCS#15
/// ID `id` (OpenSC's GIDS emulation: the container number), verified by openssl.
pub fn check_signatures(s: &Session, id: &str, public_pem: &Path) {
    let dir = s.path("");
    let message = s.path("message.txt");
    std::fs::write(&message, b"softcard signs for OpenSC\n").expect("write");
    let sig = s.path("sha256.sig");
    let mut args = vec!["--login", "--pin", DEFAULT_PIN, "--sign", "--id", id];
    args.extend(["-m", "SHA256-RSA-PKCS", "-i", path_str(&message)]);
    args.extend(["-o", path_str(&sig)]);
    s.pkcs11(&args).ok("pkcs11-tool --sign -m SHA256-RSA-PKCS");
    assert!(openssl::verify_sha256(&dir, public_pem, &message, &sig));
    // The twin: the signature does not verify over another message.
    let other = s.path("other.txt");
    std::fs::write(&other, b"another message\n").expect("write");
    assert!(!openssl::verify_sha256(&dir, public_pem, &other, &sig));

    // RSA-PKCS: the host builds the DigestInfo, the card pads and signs it as is.
    let digest_info = s.path("digest-info.bin");
    let mut info = hex_bytes("3031300d060960864801650304020105000420");
    let digest =
        openssl::run(&dir, &["dgst", "-sha256", "-r", path_str(&message)]).ok("openssl dgst");
    info.extend(hex_bytes(&digest.stdout[..64]));
    std::fs::write(&digest_info, &info).expect("write");
    let raw_sig = s.path("raw.sig");
    let mut args = vec!["--login", "--pin", DEFAULT_PIN, "--sign", "--id", id];
    args.extend(["-m", "RSA-PKCS", "-i", path_str(&digest_info)]);
    args.extend(["-o", path_str(&raw_sig)]);
    s.pkcs11(&args).ok("pkcs11-tool --sign -m RSA-PKCS");
    assert!(openssl::verify_raw(
        &dir,
        public_pem,
        &digest_info,
        &raw_sig
    ));
    assert!(openssl::verify_sha256(&dir, public_pem, &message, &raw_sig));
}

/// RSA-PKCS decryption by the key with ID `id` of a message openssl encrypted to it.
pub fn check_decryption(s: &Session, id: &str, public_pem: &Path) {
    let plain = s.path("secret.txt");
    std::fs::write(&plain, b"a secret for the card").expect("write");
    let cipher = s.path("secret.enc");
    openssl::encrypt_rsa(&s.path(""), public_pem, &plain, &cipher);
    let out = s.path("secret.dec");
    let mut args = vec!["--login", "--pin", DEFAULT_PIN, "--decrypt", "--id", id];
    args.extend([
        "-m",
        "RSA-PKCS",
        "-i",
        path_str(&cipher),
        "-o",
        path_str(&out),
    ]);
    s.pkcs11(&args).ok("pkcs11-tool --decrypt -m RSA-PKCS");
    assert_eq!(
        std::fs::read(&out).expect("decrypted"),
        b"a secret for the card"
    );
}

/// The certificate with PKCS#15 ID `id` as DER, read by `pkcs15-tool --read-certificate`.
pub fn read_certificate(s: &Session, id: &str, tag: &str) -> Vec<u8> {
    let pem = s.path(&format!("read-{tag}.pem"));
    s.run(
        "pkcs15-tool",
        &["--read-certificate", id, "-o", path_str(&pem)],
    )
    .ok("pkcs15-tool --read-certificate");
    openssl::certificate_der(&s.path(""), &pem, &s.path(&format!("read-{tag}.der")))
}

/// The public key with PKCS#15 ID `id`, read through PKCS#11 (`--read-object --type
/// pubkey`) and converted to PEM by openssl; returns the PEM file.
///
/// Keys are named by ID, not label: after a key is deleted, OpenSC 0.23 lists an unnamed
/// key for the emptied container, and its label search matches that empty label.
pub fn read_public_key(s: &Session, id: &str) -> std::path::PathBuf {
    let der = s.path(&format!("{id}.pub.der"));
    let read = ["--read-object", "--type", "pubkey", "--id", id, "-o"];
    s.pkcs11(&[&read[..], &[path_str(&der)]].concat())
        .ok("pkcs11-tool --read-object --type pubkey");
    let pem = s.path(&format!("{id}.pub.pem"));
    let args = [
        "pkey",
        "-pubin",
        "-inform",
        "DER",
        "-in",
        path_str(&der),
        "-out",
    ];
    openssl::run(&s.path(""), &[&args[..], &[path_str(&pem)]].concat()).ok("openssl pkey");
    pem
}

/// Generates an RSA key pair of `bits` labelled `label` with `pkcs11-tool --keypairgen`.
pub fn generate_key(s: &Session, bits: u32, label: &str) {
    let key_type = format!("rsa:{bits}");
    s.pkcs11(&[
        "--login",
        "--pin",
        DEFAULT_PIN,
        "--keypairgen",
        "--key-type",
        &key_type,
        "--label",
        label,
    ])
    .ok("pkcs11-tool --keypairgen");
}

/// `pkcs15-tool --dump`'s standard output.
pub fn dump(s: &Session) -> String {
    s.run("pkcs15-tool", &["--dump"])
        .ok("pkcs15-tool -D")
        .stdout
}

/// Runs `pkcs11-tool --module ... --login --pin 12345678 ARGS`.
pub fn pkcs11_as_user(s: &Session, args: &[&str]) -> Output {
    s.pkcs11(&[&["--login", "--pin", DEFAULT_PIN][..], args].concat())
}

/// Makes a certificate `CN=<cn>` for the public key in `public_pem` with openssl and
/// stores it on the card next to the key with PKCS#15 ID `id`
/// (`pkcs11-tool --write-object --type cert`); returns its DER.
pub fn store_certificate(s: &Session, public_pem: &Path, cn: &str, id: &str) -> Vec<u8> {
    let dir = s.path("");
    let pem = openssl::certificate_for(&dir, public_pem, cn);
    let der = s.path(&format!("{cn}.crt.der"));
    let cert = openssl::certificate_der(&dir, &pem, &der);
    let write = ["--write-object", path_str(&der), "--type", "cert"];
    pkcs11_as_user(s, &[&write[..], &["--id", id, "--label", cn]].concat())
        .ok("pkcs11-tool --write-object --type cert");
    cert
}

/// Asserts that a PKCS#11 run failed on a wrong PIN (`CKR_PIN_INCORRECT`).
///
/// # Panics
/// If it did not.
pub fn assert_pin_incorrect(out: &Output) {
    let text = out.text();
    assert!(text.contains("CKR_PIN_INCORRECT"), "{text}");
}
