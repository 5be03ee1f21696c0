//! The host side of a few PIV operations, done in process on a card image before a test
//! hands the image to a real client: management-key authentication and key generation.

use std::path::Path;

use softcard::{
    Card, CardOptions, Profile,
    crypto::sym::{SymAlg, SymKey},
    profile::DEFAULT_ADMIN_KEY,
    tlv,
};
use softcard_file::FileStorage;

/// The SW of a response.
pub fn sw(r: &[u8]) -> u16 {
    match r {
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// Sends a command, collects a chained response (61xx + GET RESPONSE), and insists on 9000.
fn ok(card: &mut Card, apdu: &[u8]) -> Vec<u8> {
    let mut r = card.transmit(apdu);
    let mut data = Vec::new();
    while let [.., 0x61, n] = r[..] {
        data.extend_from_slice(&r[..r.len() - 2]);
        r = card.transmit(&[0x00, 0xC0, 0x00, 0x00, n]);
    }
    assert_eq!(sw(&r), 0x9000, "{apdu:02X?} -> {r:02X?}");
    data.extend_from_slice(&r[..r.len() - 2]);
    data
}

/// Authenticates with the default 3DES management key (mutual authentication).
pub fn authenticate_management_key(card: &mut Card) {
    let key = SymKey::from_bytes(SymAlg::Tdes, &DEFAULT_ADMIN_KEY).unwrap();
    let r = ok(
        card,
        &[0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00],
    );
    let inner = tlv::expect_single(&r, 0x7C).unwrap();
    let mut witness = tlv::find(inner, 0x80).unwrap().unwrap().to_vec();
    key.decrypt_block(&mut witness).unwrap();
    let challenge = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let mut body = Vec::new();
    tlv::write(&mut body, 0x80, &witness);
    tlv::write(&mut body, 0x81, &challenge);
    let mut apdu = vec![0x00, 0x87, 0x03, 0x9B];
    let data = tlv::encode(0x7C, &body);
    apdu.push(data.len() as u8);
    apdu.extend_from_slice(&data);
    apdu.push(0);
    let r = ok(card, &apdu);
    let inner = tlv::expect_single(&r, 0x7C).unwrap();
    let mut expected = challenge;
    key.encrypt_block(&mut expected).unwrap();
    assert_eq!(tlv::find(inner, 0x82).unwrap().unwrap(), &expected[..]);
}

/// Creates a PIV card image at `path` (default PIN 12345678) with an RSA-2048 key in
/// slot 9A; returns the public modulus and exponent.
pub fn piv_image_with_rsa_key(path: &Path, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut card = Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        seed,
        Box::new(FileStorage::new(path)),
    )
    .unwrap();
    ok(
        &mut card,
        &[
            0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
        ],
    );
    authenticate_management_key(&mut card);
    let r = ok(
        &mut card,
        &[
            0x00, 0x47, 0x00, 0x9A, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x07, 0x00,
        ],
    );
    let inner = tlv::expect_single(&r, 0x7F49).unwrap();
    let n = tlv::find(inner, 0x81).unwrap().unwrap().to_vec();
    let e = tlv::find(inner, 0x82).unwrap().unwrap().to_vec();
    (n, e)
}
