//! The host side of PIV steps on an in-process card: SELECT, VERIFY with the default PIN,
//! management-key mutual authentication, key generation and signatures.
//!
//! Commands go out with `Le` = 65536 (extended when needed), so that every response comes
//! whole.

use softcard::{
    Card, MemoryStorage,
    crypto::sym::{SymAlg, SymKey},
    tlv,
};

pub use softcard::profile::DEFAULT_ADMIN_KEY;

/// SELECT of the PIV application.
pub const SELECT: &[u8] = crate::apdu!("00 A4 04 00 09 A0 00 00 03 08 00 00 10 00");
/// VERIFY of the default PIN (`12345678`).
pub const VERIFY_DEFAULT_PIN: &[u8] = crate::apdu!("00 20 00 80 08 3132333435363738");

/// Sends `INS P1 P2 data` (short or extended form as needed, `Le` = 65536); the data and SW.
pub fn send(card: &mut Card, ins: u8, p1: u8, p2: u8, data: &[u8]) -> (Vec<u8>, u16) {
    crate::send(card, &crate::cmd(ins, p1, p2, data, Some(65536)))
}

/// [`send`], insisting on `9000`; the data.
///
/// # Panics
/// On any other status word.
#[track_caller]
pub fn ok(card: &mut Card, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
    let (r, sw) = send(card, ins, p1, p2, data);
    assert_eq!(sw, 0x9000, "INS {ins:02X} {p1:02X} {p2:02X}");
    r
}

/// Selects the PIV application; its answer (the application property template).
pub fn select(card: &mut Card) -> Vec<u8> {
    crate::ok(card, SELECT)
}

/// Verifies the default PIN.
pub fn verify_pin(card: &mut Card) {
    ok(card, 0x20, 0, 0x80, crate::PIN);
}

/// A dynamic authentication template `7C { items }`.
pub fn template(items: &[(u32, &[u8])]) -> Vec<u8> {
    let mut inner = Vec::new();
    for (tag, value) in items {
        tlv::write(&mut inner, *tag, value);
    }
    tlv::encode(0x7C, &inner)
}

/// Mutual authentication with the management key 9B under `key` (witness, then our
/// challenge); returns the final SW. On `9000`, checks that the card's answer to the
/// challenge proves it holds the key.
pub fn mgmt_auth(card: &mut Card, alg: SymAlg, key: &[u8]) -> u16 {
    let sym = SymKey::from_bytes(alg, key).unwrap();
    let bl = alg.block_len();
    let r = ok(card, 0x87, alg.piv_id(), 0x9B, &template(&[(0x80, &[])]));
    let inner = tlv::expect_single(&r, 0x7C).unwrap();
    let mut witness = tlv::expect_single(inner, 0x80).unwrap().to_vec();
    assert_eq!(witness.len(), bl);
    sym.decrypt_block(&mut witness).unwrap();
    let challenge = vec![0x5A; bl];
    let (r, sw) = send(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &template(&[(0x80, &witness), (0x81, &challenge)]),
    );
    if sw == 0x9000 {
        let mut expected = challenge.clone();
        sym.encrypt_block(&mut expected).unwrap();
        assert_eq!(
            r,
            template(&[(0x82, &expected)]),
            "the card proves it holds the key"
        );
    }
    sw
}

/// Single-form authentication with 9B (`81` challenge, then the `82` response); returns the
/// final SW.
pub fn mgmt_auth_single(card: &mut Card, alg: SymAlg, key: &[u8]) -> u16 {
    let sym = SymKey::from_bytes(alg, key).unwrap();
    let r = ok(card, 0x87, alg.piv_id(), 0x9B, &template(&[(0x81, &[])]));
    let mut challenge = tlv::expect_single(tlv::expect_single(&r, 0x7C).unwrap(), 0x81)
        .unwrap()
        .to_vec();
    sym.encrypt_block(&mut challenge).unwrap();
    send(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &template(&[(0x82, &challenge)]),
    )
    .1
}

/// Mutual authentication with the default 3DES management key.
///
/// # Panics
/// When the card refuses it.
#[track_caller]
pub fn authenticate(card: &mut Card) {
    assert_eq!(mgmt_auth(card, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
}

/// GENERATE ASYMMETRIC KEY PAIR in `slot` with algorithm `alg`; the inside of the `7F49`
/// public key template.
pub fn generate(card: &mut Card, slot: u8, alg: u8) -> Vec<u8> {
    let r = ok(
        card,
        0x47,
        0,
        slot,
        &tlv::encode(0xAC, &tlv::encode(0x80, &[alg])),
    );
    tlv::expect_single(&r, 0x7F49).unwrap().to_vec()
}

/// GENERAL AUTHENTICATE with the key in `slot` over `data` (a padded block or a digest);
/// the signature (or the data on failure) and the SW.
pub fn sign(card: &mut Card, alg: u8, slot: u8, data: &[u8]) -> (Vec<u8>, u16) {
    let (r, sw) = send(
        card,
        0x87,
        alg,
        slot,
        &template(&[(0x82, &[]), (0x81, data)]),
    );
    if sw != 0x9000 {
        return (r, sw);
    }
    let inner = tlv::expect_single(&r, 0x7C).unwrap();
    (tlv::expect_single(inner, 0x82).unwrap().to_vec(), sw)
}

/// A PIV card from `seed`, authenticated with the default management key, with a key of
/// algorithm `alg` generated in `slot`: the card (still authenticated), its storage and the
/// inside of the key's `7F49` template.
pub fn keyed_card(seed: u64, slot: u8, alg: u8) -> (Card, MemoryStorage, Vec<u8>) {
    let (mut card, storage) = crate::piv_card(seed);
    authenticate(&mut card);
    let public = generate(&mut card, slot, alg);
    (card, storage, public)
}
