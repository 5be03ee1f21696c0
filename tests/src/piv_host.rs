//! The host side of a few PIV operations, done in process on a card image before a test
//! hands the image to a real client: management-key authentication and key generation
//! (the steps themselves are `softcard_test_support::piv`'s).

use std::path::Path;

use softcard::{Card, CardOptions, Profile, tlv};
use softcard_file::FileStorage;
use softcard_test_support::piv;

/// Creates a PIV card image at `path` (default PIN 12345678) with an RSA-2048 key in
/// slot 9A; returns the public modulus and exponent.
pub fn piv_image_with_rsa_key(path: &Path, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut card = Card::create_seeded(
        &CardOptions::new(Profile::Piv),
        seed,
        Box::new(FileStorage::new(path)),
    )
    .unwrap();
    piv::select(&mut card);
    piv::authenticate(&mut card);
    let inner = piv::generate(&mut card, 0x9A, 0x07);
    let n = tlv::find(&inner, 0x81).unwrap().unwrap().to_vec();
    let e = tlv::find(&inner, 0x82).unwrap().unwrap().to_vec();
    (n, e)
}
