//! PIN, administrator key (3DES and AES), anti-tearing.

use super::*;

#[test]
fn admin_mutual_authentication_right_and_wrong_key() {
    let (mut card, _) = gids_card(2);
    // Unblock needs the administrator.
    assert_eq!(
        send(&mut card, &cmd(0x2C, 2, 0x80, b"11112222", None)).1,
        0x6982
    );
    let mut wrong = DEFAULT_ADMIN_KEY;
    // Bit 0 of each byte is DES parity: change a key bit.
    wrong[23] ^= 0x10;
    assert_eq!(admin_auth(&mut card, &wrong), 0x6982);
    assert_eq!(
        send(&mut card, &cmd(0x2C, 2, 0x80, b"11112222", None)).1,
        0x6982
    );
    // A replayed response after a failure finds no challenge.
    assert_eq!(
        send(
            &mut card,
            &cmd(
                0x87,
                0,
                0,
                &tlv::encode(0x7C, &tlv::encode(0x82, &[0; 40])),
                None
            )
        )
        .1,
        0x6985
    );
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut card, &cmd(0x2C, 2, 0x80, b"11112222", None));
    // The administrator is logged out after the unblock.
    assert_eq!(
        send(&mut card, &cmd(0x2C, 2, 0x80, b"33334444", None)).1,
        0x6982
    );
    ok(&mut card, &cmd(0x20, 0, 0x80, b"11112222", None));
}

#[test]
fn blocked_pin_is_unblocked_by_the_administrator() {
    let (mut card, _) = gids_card(3);
    for left in [0x63C2, 0x63C1, 0x63C0] {
        assert_eq!(
            send(&mut card, &cmd(0x20, 0, 0x80, b"00000000", None)).1,
            left
        );
    }
    assert_eq!(
        send(&mut card, &cmd(0x20, 0, 0x80, b"12345678", None)).1,
        0x6983
    );
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    // A new PIN the rules refuse: 6A80, and the administrator is logged out all the same.
    assert_eq!(
        send(&mut card, &cmd(0x2C, 2, 0x80, b"1234", None)).1,
        0x6A80
    );
    assert_eq!(
        send(&mut card, &cmd(0x2C, 2, 0x80, b"12345678", None)).1,
        0x6982
    );
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut card, &cmd(0x2C, 2, 0x80, b"12345678", None));
    let status = ok(
        &mut card,
        &cmd(0xCB, 0x3F, 0xFF, &[0x5C, 2, 0x7F, 0x71], Some(256)),
    );
    assert_eq!(status, [0x7F, 0x71, 6, 0x97, 1, 3, 0x93, 1, 3]);
    verify_pin(&mut card);
}

#[test]
fn admin_key_change_as_gids_tool_does() {
    let (mut card, storage) = gids_card(4);
    let new_key: Vec<u8> = (0x10..0x28).collect();
    let mut template = tlv::encode(0x87, &new_key);
    tlv::write(&mut template, 0x88, &[0xB0, 0x73, 0xDC]);
    let mut body = tlv::encode(0x84, &[0x80]);
    tlv::write(&mut body, 0xA5, &template);
    let put = cmd(0xDB, 0x3F, 0xFF, &tlv::encode(0x70, &body), None);
    assert_eq!(send(&mut card, &put).1, 0x6982, "needs the administrator");
    verify_pin(&mut card);
    assert_eq!(send(&mut card, &put).1, 0x6982, "the PIN is not enough");
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut card, &put);
    ok(&mut card, &[0, 0x20, 0, 0x82]);
    let mut card = reload(&storage, 9);
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x6982);
    assert_eq!(admin_auth(&mut card, &new_key), 0x9000);
}

/// Keeps every image written.
#[derive(Clone, Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl softcard::Storage for Recorder {
    fn save(&mut self, image: &[u8]) -> std::io::Result<()> {
        self.0.lock().unwrap().push(image.to_vec());
        Ok(())
    }
}

fn tries_in(image: &[u8]) -> u8 {
    let mut card = load(image, 1, BackendKind::RustCrypto);
    ok(
        &mut card,
        &cmd(0xCB, 0x3F, 0xFF, &[0x5C, 2, 0x7F, 0x71], Some(256)),
    )[5]
}

#[test]
fn pin_try_is_written_before_the_comparison() {
    let recorder = Recorder::default();
    let opts = CardOptions::new(Profile::WindowsVsc);
    let mut card = Card::create_seeded(&opts, 13, Box::new(recorder.clone())).unwrap();
    recorder.0.lock().unwrap().clear();
    verify_pin(&mut card);
    let images = recorder.0.lock().unwrap().clone();
    assert_eq!(images.len(), 2, "the spent try, then the restored counter");
    assert_eq!(
        tries_in(&images[0]),
        2,
        "a power cut during the comparison keeps the try spent"
    );
    assert_eq!(tries_in(&images[1]), 3);
}

#[test]
fn aes_administrator_key_mutual_and_external() {
    let key = [0x3Cu8; 16];
    let mut opts = CardOptions::new(Profile::WindowsVsc);
    opts.admin_key = Some(softcard::Secret::from_slice(&key));
    opts.admin_key_aes = true;
    let mut card = Card::create_seeded(&opts, 14, Box::new(MemoryStorage::new())).unwrap();
    // Mutual: 16-byte blocks, 48-byte cryptograms.
    let r1 = [7u8; 16];
    let r2 = softcard_test_support::gids::mutual_challenge(&mut card, 0x81, &r1);
    let mut plain = r2.clone();
    plain.extend_from_slice(&r1);
    plain.extend_from_slice(&[1; 15]);
    plain.push(0x80);
    let enc = cbc::<aes::Aes128>(&key, &plain, true);
    let resp = ok(
        &mut card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x82, &enc)),
            Some(256),
        ),
    );
    let back = cbc::<aes::Aes128>(&key, &resp[4..], false);
    assert_eq!(
        (&back[..16], &back[16..32], back[47]),
        (&r1[..], &r2[..], 0x80)
    );
    ok(&mut card, &cmd(0x2C, 2, 0x80, b"87654321", None));
    // External: a 16-byte challenge; a wrong key fails, the right one passes.
    for (k, want) in [([0x3Du8; 16], 0x6982), (key, 0x9000)] {
        let resp = ok(&mut card, &cmd(0x87, 0, 0, &[0x7C, 2, 0x81, 0], Some(256)));
        assert_eq!(&resp[..4], &[0x7C, 0x12, 0x81, 0x10]);
        let answer = cbc::<aes::Aes128>(&k, &resp[4..], true);
        let sw = send(
            &mut card,
            &cmd(
                0x87,
                0,
                0,
                &tlv::encode(0x7C, &tlv::encode(0x82, &answer)),
                None,
            ),
        )
        .1;
        assert_eq!(sw, want);
    }
    ok(&mut card, &cmd(0x2C, 2, 0x80, b"12345678", None));
    // A 3DES-length key without the AES option is refused at creation.
    let mut bad = CardOptions::new(Profile::WindowsVsc);
    bad.admin_key = Some(softcard::Secret::from_slice(&key));
    assert!(Card::create_seeded(&bad, 1, Box::new(MemoryStorage::new())).is_err());
}

/// CREATE FILE and DELETE FILE of an EF on an operational card: the administrator may, the
/// PIN may not (the refusals are in `tests/data/apdu/gids/conditions.apdu`).
#[test]
fn ef_create_and_delete_need_the_administrator() {
    let (mut card, _) = gids_card(16);
    let fcp = [
        0x62, 0x0C, 0x82, 1, 0x39, 0x83, 2, 0xA0, 0x20, 0x8C, 3, 3, 0x30, 0x00,
    ];
    let create = cmd(0xE0, 0, 0, &fcp, None);
    verify_pin(&mut card);
    assert_eq!(send(&mut card, &create).1, 0x6982, "the PIN is not enough");
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut card, &create);
    ok(&mut card, &[0, 0x44, 0, 0]);
    assert_eq!(send(&mut card, &create).1, 0x6A89);
    // The new EF takes data objects under the conditions of its FCP (PIN writes).
    ok(&mut card, &[0, 0x20, 0, 0x82]);
    let put = cmd(0xDB, 0xA0, 0x20, &[0xDF, 0x30, 2, 0xAB, 0xCD], None);
    assert_eq!(send(&mut card, &put).1, 0x6982);
    verify_pin(&mut card);
    ok(&mut card, &put);
    assert_eq!(
        ok(
            &mut card,
            &cmd(0xCB, 0xA0, 0x20, &[0x5C, 2, 0xDF, 0x30], Some(256))
        ),
        [0xDF, 0x30, 2, 0xAB, 0xCD]
    );
    // Deleting it: refused with the PIN, named or current; done by the administrator.
    let delete = cmd(0xE4, 0, 0, &[0xA0, 0x20], None);
    assert_eq!(send(&mut card, &delete).1, 0x6982);
    ok(&mut card, &[0, 0xA4, 0, 0x0C, 2, 0xA0, 0x20]);
    assert_eq!(send(&mut card, &[0, 0xE4, 0, 0]).1, 0x6982);
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut card, &delete);
    assert_eq!(
        send(&mut card, &[0, 0xA4, 0, 0x0C, 2, 0xA0, 0x20]).1,
        0x6A82
    );
    assert_eq!(send(&mut card, &delete).1, 0x6A82);
    // The current-file form works for the administrator too.
    ok(&mut card, &create);
    ok(&mut card, &[0, 0xE4, 0, 0]);
    assert_eq!(
        send(&mut card, &[0, 0xA4, 0, 0x0C, 2, 0xA0, 0x20]).1,
        0x6A82
    );
}

/// A GIDS card has no PUK (its PIN is unblocked with the administrator key): a PUK given at
/// creation is refused, not ignored.
#[test]
fn a_puk_for_a_gids_card_is_refused() {
    let mut opts = CardOptions::new(Profile::WindowsVsc);
    opts.puk = Some(softcard::Secret::from_slice(b"11112222"));
    let err = Card::create_seeded(&opts, 15, Box::new(MemoryStorage::new())).unwrap_err();
    assert!(matches!(err, softcard::Error::InvalidOption(_)), "{err:?}");
    opts.puk = None;
    Card::create_seeded(&opts, 15, Box::new(MemoryStorage::new())).unwrap();
}
