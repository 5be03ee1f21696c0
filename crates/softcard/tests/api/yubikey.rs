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
