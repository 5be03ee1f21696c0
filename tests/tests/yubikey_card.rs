//! The `yubikey` and `yubikey-5.4` cards seen by yubico-piv-tool 2.2.0 through the drop-in
//! (`softcard exec`): the YubiKey reader name (`-r Yubico` finds it), the firmware version
//! and serial number, PIN 123456; the 3DES management key this client knows works on the
//! 5.4 card and fails on the 5.7 card, whose default key is AES-192 (as on a YubiKey 5.7).

use softcard_tests::clients::{Route, Session};

/// `--key=` with the default management key (the option's value must follow `=`).
const MGM_KEY: &str = "--key=010203040506070801020304050607080102030405060708";

/// A drop-in session on a new card of `profile`.
fn session(profile: &str, seed: u64) -> Session {
    Session::open_profile(Route::DropIn, profile, "YubiKey", seed, profile)
        .expect("the drop-in route always runs")
}

/// `yubico-piv-tool -r Yubico ARGS`: the reader is found by the YubiKey's name.
fn yubico(s: &Session, args: &[&str]) -> softcard_tests::clients::Output {
    let mut all = vec!["-r", "Yubico"];
    all.extend_from_slice(args);
    s.run("yubico-piv-tool", &all)
}

#[test]
fn yubico_piv_tool_finds_a_yubikey_5_7() {
    let s = session("yubikey", 301);
    let status = yubico(&s, &["-v", "1", "-a", "status"]).ok("status");
    let text = status.text();
    assert!(
        text.contains("Yubico YubiKey OTP+FIDO+CCID 00 00"),
        "{text}"
    );
    assert!(status.stdout.contains("Version:\t5.7.1"), "{text}");
    assert!(status.stdout.contains("PIN tries left:\t3"), "{text}");
    let out = yubico(&s, &["-a", "verify-pin", "-P", "12345678"]);
    assert!(
        out.fails("the piv card's PIN")
            .text()
            .contains("2 tries left")
    );
    yubico(&s, &["-a", "verify-pin", "-P", "123456"]).ok("PIN 123456");
    // The default key is AES-192: this client's 3DES authentication fails.
    let out = yubico(
        &s,
        &[MGM_KEY, "-a", "generate", "-s", "9a", "-A", "ECCP256"],
    );
    let out = out.fails("3DES authentication against the AES-192 key");
    assert!(
        out.text().contains("Failed authentication"),
        "{}",
        out.text()
    );
}

#[test]
fn yubico_piv_tool_manages_a_yubikey_5_4() {
    let s = session("yubikey-5.4", 302);
    let status = yubico(&s, &["-a", "status"]).ok("status");
    assert!(
        status.stdout.contains("Version:\t5.4.3"),
        "{}",
        status.text()
    );
    let public = s.path("public.pem");
    let public = public.to_str().expect("a UTF-8 path");
    let generate = ["-a", "generate", "-s", "9a", "-A", "ECCP256", "-o", public];
    let mut wrong = vec!["--key=0102030405060708010203040506070801020304050607FF"];
    wrong.extend_from_slice(&generate);
    yubico(&s, &wrong).fails("a wrong management key");
    let mut right = vec![MGM_KEY];
    right.extend_from_slice(&generate);
    yubico(&s, &right).ok("generate with the default 3DES key");
    let pem = std::fs::read_to_string(public).expect("the public key");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
}
