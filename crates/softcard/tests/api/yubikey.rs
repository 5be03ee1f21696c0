//! The `yubikey` card, a YubiKey 5 with firmware 5.7: its ATR, its default management key
//! (AES-192, with the 3DES key of the same bytes refused), the firmware version in the
//! attestation certificates, the Management application's device information, and its
//! image.

use softcard::{
    Card, CardOptions, Profile, Secret,
    crypto::{BackendKind, sym::SymAlg},
    tlv,
    yubikey::MANAGEMENT_AID,
};
use softcard_test_support::{
    card_with, load, ok as ok_apdu,
    piv::{DEFAULT_ADMIN_KEY, generate, mgmt_auth, mgmt_auth_single, ok, send},
    select_command,
};

/// SELECT of the PIV application.
const SELECT_PIV: &[u8] = softcard_test_support::piv::SELECT;

fn yubikey(seed: u64) -> (Card, softcard::MemoryStorage) {
    let mut opts = CardOptions::new(Profile::Yubikey);
    opts.serial = Some(0x00C0_FFEE);
    card_with(&opts, seed)
}

#[test]
fn the_atr_is_a_yubikey_5s() {
    let (c, _) = yubikey(1);
    assert_eq!(
        hex::encode_upper(c.atr()),
        "3BFD1300008131FE158073C021C057597562694B657940"
    );
    assert_eq!(Profile::Yubikey.atr(), c.atr());
    assert_ne!(Profile::Piv.atr(), c.atr());
}

#[test]
fn the_default_management_key_is_aes_192_and_its_3des_twin_fails() {
    let (mut c, _) = yubikey(2);
    ok_apdu(&mut c, SELECT_PIV);
    let put = |c: &mut Card| send(c, 0xDB, 0x3F, 0xFF, &probe()).1;
    // 3DES asked of an AES key: refused before any cryptogram (6A86).
    assert_eq!(
        send(&mut c, 0x87, 0x03, 0x9B, &[0x7C, 0x02, 0x80, 0x00]).1,
        0x6A86
    );
    assert_eq!(put(&mut c), 0x6982);
    let mut wrong = DEFAULT_ADMIN_KEY;
    wrong[0] ^= 0x01;
    assert_eq!(mgmt_auth(&mut c, SymAlg::Aes192, &wrong), 0x6982);
    assert_eq!(put(&mut c), 0x6982);
    assert_eq!(mgmt_auth_single(&mut c, SymAlg::Aes192, &wrong), 0x6982);
    assert_eq!(put(&mut c), 0x6982);
    assert_eq!(
        mgmt_auth(&mut c, SymAlg::Aes192, &DEFAULT_ADMIN_KEY),
        0x9000
    );
    assert_eq!(put(&mut c), 0x9000);
}

#[test]
fn a_3des_management_key_can_still_be_chosen() {
    let mut opts = CardOptions::new(Profile::Yubikey);
    opts.admin_key = Some(Secret::from_slice(&DEFAULT_ADMIN_KEY));
    let (mut c, _) = card_with(&opts, 3);
    ok_apdu(&mut c, SELECT_PIV);
    let meta = ok(&mut c, 0xF7, 0, 0x9B, &[]);
    assert_eq!(tlv::find(&meta, 0x01).unwrap(), Some(&[0x03][..]));
    assert_eq!(
        tlv::find(&meta, 0x05).unwrap(),
        Some(&[0x00][..]),
        "not the default"
    );
    // AES-192 asked of the 3DES key: refused (6A86).
    assert_eq!(
        send(&mut c, 0x87, 0x0A, 0x9B, &[0x7C, 0x02, 0x80, 0x00]).1,
        0x6A86
    );
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
}

fn probe() -> Vec<u8> {
    let mut data = tlv::encode(0x5C, &[0x5F, 0xC1, 0x09]);
    tlv::write(&mut data, 0x53, b"probe");
    data
}

#[test]
fn attestation_names_firmware_5_7_1() {
    let (mut c, _) = yubikey(4);
    ok_apdu(&mut c, SELECT_PIV);
    assert_eq!(
        mgmt_auth(&mut c, SymAlg::Aes192, &DEFAULT_ADMIN_KEY),
        0x9000
    );
    generate(&mut c, 0x9A, 0x11);
    let cert = ok(&mut c, 0xF9, 0x9A, 0, &[]);
    // Extension 1.3.6.1.4.1.41482.3.3 (firmware): OCTET STRING 05 07 01.
    let firmware = [
        0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0xC4, 0x0A, 0x03, 0x03, 0x04, 0x03, 0x05,
        0x07, 0x01,
    ];
    assert!(
        cert.windows(firmware.len()).any(|w| w == firmware),
        "firmware 5.7.1 in the attestation"
    );
    // An empty slot: 6A80, as a YubiKey.
    assert_eq!(send(&mut c, 0xF9, 0x9C, 0, &[]).1, 0x6A80);
}

#[test]
fn device_information_parses_as_yubikit_reads_it() {
    let (mut c, _) = yubikey(5);
    let version = ok_apdu(&mut c, &select_command(MANAGEMENT_AID));
    let text = String::from_utf8(version).unwrap();
    assert!(text.ends_with(" 5.7.1"), "{text}");
    let info = ok_apdu(
        &mut c,
        &softcard_test_support::cmd(0x1D, 0, 0, &[], Some(256)),
    );
    // DeviceInfo.parse: the first byte is the length of the rest.
    assert_eq!(usize::from(info[0]), info.len() - 1);
    let tlvs = &info[1..];
    let get = |tag| tlv::find(tlvs, tag).unwrap().unwrap().to_vec();
    assert_eq!(get(0x02), 0x00C0_FFEEu32.to_be_bytes(), "serial");
    assert_eq!(get(0x05), [5, 7, 1], "firmware");
    assert_eq!(get(0x04), [0x01], "USB-A keychain");
    for tag in [0x01, 0x03, 0x0D, 0x0E] {
        assert_eq!(
            get(tag),
            [0x00, 0x10],
            "PIV supported and enabled ({tag:02X})"
        );
    }
    // The serial number PIV reports is the same.
    ok_apdu(&mut c, SELECT_PIV);
    assert_eq!(ok(&mut c, 0xF8, 0, 0, &[]), 0x00C0_FFEEu32.to_be_bytes());
}

#[test]
fn the_image_keeps_the_profile_and_both_applications() {
    let (c, storage) = yubikey(6);
    let d = c.description();
    assert_eq!(d.profile, "yubikey");
    let names: Vec<_> = d.applets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["PIV", "Management"]);
    assert!(c.describe().iter().any(|l| l.contains("5.7.1")));
    let image = storage.image().unwrap();
    let mut again = load(&image, 7, BackendKind::RustCrypto);
    assert_eq!(again.profile(), Profile::Yubikey);
    assert_eq!(again.atr(), Profile::Yubikey.atr());
    let info = ok_apdu(&mut again, &select_command(MANAGEMENT_AID));
    assert!(info.starts_with(b"Virtual mgr"));
    ok_apdu(&mut again, SELECT_PIV);
    assert_eq!(ok(&mut again, 0xFD, 0, 0, &[]), [5, 7, 1]);
}

#[test]
fn a_yubikey_card_is_never_blank() {
    let mut opts = CardOptions::new(Profile::Yubikey);
    opts.blank = true;
    let err = Card::create_seeded(&opts, 1, Box::new(softcard::NoStorage)).unwrap_err();
    assert!(matches!(err, softcard::Error::InvalidOption(_)), "{err:?}");
}

/// GENERAL AUTHENTICATE key agreement (`7C { 82 00, 85 peer }`); the shared secret and SW.
fn agree(card: &mut Card, alg: u8, slot: u8, peer: &[u8]) -> (Vec<u8>, u16) {
    let data = softcard_test_support::piv::template(&[(0x82, &[]), (0x85, peer)]);
    let (r, sw) = send(card, 0x87, alg, slot, &data);
    if sw != 0x9000 {
        return (r, sw);
    }
    let inner = tlv::expect_single(&r, 0x7C).unwrap();
    (tlv::expect_single(inner, 0x82).unwrap().to_vec(), sw)
}

/// An authenticated `yubikey` card with PIV selected.
fn keyed(seed: u64) -> (Card, softcard::MemoryStorage) {
    let (mut c, storage) = yubikey(seed);
    ok_apdu(&mut c, SELECT_PIV);
    assert_eq!(
        mgmt_auth(&mut c, SymAlg::Aes192, &DEFAULT_ADMIN_KEY),
        0x9000
    );
    (c, storage)
}

#[test]
fn ed25519_generate_sign_verify_attest_and_reload() {
    use ed25519_dalek::Verifier;
    let (mut c, storage) = keyed(8);
    let public = generate(&mut c, 0x9A, 0xE0);
    let point: [u8; 32] = tlv::expect_single(&public, 0x86)
        .unwrap()
        .try_into()
        .unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&point).unwrap();
    let message = b"the whole message, not a digest";
    assert_eq!(
        softcard_test_support::piv::sign(&mut c, 0xE0, 0x9A, message).1,
        0x6982,
        "PIN once: not yet verified"
    );
    ok(&mut c, 0x20, 0, 0x80, b"123456\xFF\xFF");
    let (sig, sw) = softcard_test_support::piv::sign(&mut c, 0xE0, 0x9A, message);
    assert_eq!(sw, 0x9000);
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    vk.verify(message, &sig).unwrap();
    assert!(vk.verify(b"another message", &sig).is_err(), "the twin");
    // Another algorithm identifier, or key agreement with a signing key: 6A80.
    assert_eq!(
        softcard_test_support::piv::sign(&mut c, 0x11, 0x9A, message).1,
        0x6A80
    );
    assert_eq!(agree(&mut c, 0xE0, 0x9A, &[9; 32]).1, 0x6A80);
    // Metadata: Ed25519, PIN once, touch never, generated, the public key.
    let meta = ok(&mut c, 0xF7, 0, 0x9A, &[]);
    assert_eq!(tlv::find(&meta, 0x01).unwrap(), Some(&[0xE0][..]));
    assert_eq!(tlv::find(&meta, 0x03).unwrap(), Some(&[0x01][..]));
    assert_eq!(tlv::find(&meta, 0x04).unwrap(), Some(&public[..]));
    // The attestation certificate carries the key as id-Ed25519 (1.3.101.112).
    let cert = ok(&mut c, 0xF9, 0x9A, 0, &[]);
    let mut spki = vec![
        0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(&point);
    assert!(
        cert.windows(spki.len()).any(|w| w == spki),
        "SPKI in the certificate"
    );
    // The key survives the image.
    let mut again = load(&storage.image().unwrap(), 9, BackendKind::RustCrypto);
    ok_apdu(&mut again, SELECT_PIV);
    ok(&mut again, 0x20, 0, 0x80, b"123456\xFF\xFF");
    let (sig, _) = softcard_test_support::piv::sign(&mut again, 0xE0, 0x9A, message);
    vk.verify(
        message,
        &ed25519_dalek::Signature::from_slice(&sig).unwrap(),
    )
    .unwrap();
}

#[test]
fn ed25519_import_signs_as_rfc8032_says() {
    let (mut c, _) = keyed(10);
    // RFC 8032 section 7.1, test 2: the seed, the public key, the signature of 72.
    let seed =
        hex::decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb").unwrap();
    let mut data = tlv::encode(0x07, &seed);
    tlv::write(&mut data, 0xAA, &[0x01]);
    ok(&mut c, 0xFE, 0xE0, 0x9C, &data);
    let meta = ok(&mut c, 0xF7, 0, 0x9C, &[]);
    assert_eq!(
        tlv::find(&meta, 0x03).unwrap(),
        Some(&[0x02][..]),
        "imported"
    );
    assert_eq!(
        hex::encode(
            tlv::find(tlv::find(&meta, 0x04).unwrap().unwrap(), 0x86)
                .unwrap()
                .unwrap()
        ),
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    );
    let (sig, sw) = softcard_test_support::piv::sign(&mut c, 0xE0, 0x9C, &[0x72]);
    assert_eq!(sw, 0x9000);
    assert_eq!(
        hex::encode(sig),
        concat!(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        )
    );
    // A key of the wrong length, or in the wrong tag, is refused and changes nothing.
    let short = tlv::encode(0x07, &seed[..31]);
    assert_eq!(send(&mut c, 0xFE, 0xE0, 0x9D, &short).1, 0x6A80);
    assert_eq!(
        send(&mut c, 0xFE, 0xE0, 0x9D, &tlv::encode(0x08, &seed)).1,
        0x6A80
    );
    assert_eq!(send(&mut c, 0xF7, 0, 0x9D, &[]).1, 0x6A88);
}

#[test]
fn x25519_generate_agree_import_and_refuse() {
    let (mut c, _) = keyed(11);
    let public = generate(&mut c, 0x9D, 0xE1);
    let point: [u8; 32] = tlv::expect_single(&public, 0x86)
        .unwrap()
        .try_into()
        .unwrap();
    let mut seed = [0u8; 32];
    seed[0] = 7;
    let peer = x25519_dalek::StaticSecret::from(seed);
    let peer_public = x25519_dalek::PublicKey::from(&peer);
    ok(&mut c, 0x20, 0, 0x80, b"123456\xFF\xFF");
    let (shared, sw) = agree(&mut c, 0xE1, 0x9D, peer_public.as_bytes());
    assert_eq!(sw, 0x9000);
    let expected = peer.diffie_hellman(&x25519_dalek::PublicKey::from(point));
    assert_eq!(shared, expected.as_bytes());
    // A low-order peer key, a key of the wrong length, a signature: 6A80.
    assert_eq!(agree(&mut c, 0xE1, 0x9D, &[0; 32]).1, 0x6A80);
    assert_eq!(agree(&mut c, 0xE1, 0x9D, &[9; 31]).1, 0x6A80);
    assert_eq!(
        softcard_test_support::piv::sign(&mut c, 0xE1, 0x9D, b"x").1,
        0x6A80
    );
    // RFC 7748 section 6.1: Alice's key imported, Bob's public key, their shared secret.
    let alice =
        hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a").unwrap();
    ok(&mut c, 0xFE, 0xE1, 0x9E, &tlv::encode(0x08, &alice));
    let bob =
        hex::decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f").unwrap();
    let (shared, _) = agree(&mut c, 0xE1, 0x9E, &bob);
    assert_eq!(
        hex::encode(shared),
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    );
}

#[test]
fn the_piv_card_offers_no_ed25519_or_x25519() {
    let (mut c, _) = softcard_test_support::piv_card(12);
    softcard_test_support::piv::authenticate(&mut c);
    let template = |alg| tlv::encode(0xAC, &tlv::encode(0x80, &[alg]));
    assert_eq!(send(&mut c, 0x47, 0, 0x9A, &template(0xE0)).1, 0x6A80);
    assert_eq!(send(&mut c, 0x47, 0, 0x9A, &template(0xE1)).1, 0x6A80);
    assert_eq!(
        send(&mut c, 0xFE, 0xE0, 0x9A, &tlv::encode(0x07, &[1; 32])).1,
        0x6A86
    );
    assert_eq!(send(&mut c, 0xF7, 0, 0x9A, &[]).1, 0x6A88, "nothing stored");
}
