//! The host side of GIDS steps on an in-process card, as gids-tool and OpenSC do them:
//! SELECT, VERIFY with the default PIN, the administrator's mutual authentication, key files
//! and key generation, signatures.
//!
//! Responses are collected through `61xx` / GET RESPONSE ([`crate::send`]).

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use rsa::{BoxedUint, sha2::Digest, sha2::Sha256};
use softcard::{Card, MemoryStorage, tlv};

use crate::{cmd, ok, send};

pub use softcard::profile::DEFAULT_ADMIN_KEY;

/// SELECT of the GIDS application.
pub const SELECT: &[u8] = crate::apdu!("00 A4 04 00 09 A0 00 00 03 97 42 54 46 59 00");

/// Selects the GIDS application; its FCI.
pub fn select(card: &mut Card) -> Vec<u8> {
    ok(card, SELECT)
}

/// Verifies the default PIN.
pub fn verify_pin(card: &mut Card) {
    ok(card, &cmd(0x20, 0, 0x80, crate::PIN, None));
}

/// CBC with a zero IV under `key`, by an implementation independent of the card's.
pub fn cbc<C>(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8>
where
    C: BlockCipherEncrypt + BlockCipherDecrypt + KeyInit + BlockSizeUser,
{
    let c = C::new_from_slice(key).unwrap();
    let bs = C::block_size();
    let mut prev = vec![0u8; bs];
    let mut out = Vec::new();
    for chunk in data.chunks(bs) {
        let mut block = des::cipher::Block::<C>::try_from(chunk).unwrap();
        if encrypt {
            block.iter_mut().zip(&prev).for_each(|(b, p)| *b ^= p);
            c.encrypt_block(&mut block);
            prev.copy_from_slice(&block);
        } else {
            c.decrypt_block(&mut block);
            block.iter_mut().zip(&prev).for_each(|(b, p)| *b ^= p);
            prev.copy_from_slice(chunk);
        }
        out.extend_from_slice(&block);
    }
    out
}

/// Three-key 3DES [`cbc`].
pub fn tdes_cbc(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
    cbc::<des::TdesEde3>(key, data, encrypt)
}

/// The host side of gids-tool's mutual authentication with the 3DES administrator key
/// `key`; returns the final SW. On `9000`, checks the card's cryptogram (R1, R2, padding).
pub fn admin_auth(card: &mut Card, key: &[u8]) -> u16 {
    let r1 = [0x5Au8; 16];
    let r2 = &mutual_challenge(card, 0xC1, &r1);
    let mut plain = r2.to_vec();
    plain.extend_from_slice(&r1);
    plain.extend_from_slice(&[0x33; 7]);
    plain.push(0x80);
    let enc = tdes_cbc(key, &plain, true);
    let (resp, sw) = send(
        card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x82, &enc)),
            Some(256),
        ),
    );
    if sw == 0x9000 {
        assert_eq!(resp.len(), 44);
        assert_eq!(&resp[..4], &[0x7C, 0x2A, 0x82, 0x28]);
        let back = tdes_cbc(key, &resp[4..], false);
        assert_eq!(&back[..16], &r1, "card's answer must start with R1");
        assert_eq!(&back[16..32], r2, "then R2");
        assert_eq!(back[39], 0x80, "then Z2 padded");
    } else {
        assert!(resp.is_empty());
    }
    sw
}

/// The first step of administrator-key mutual authentication: MSE SET (P1 `mse_p1`) of
/// the administrator key, then GENERAL AUTHENTICATE with the host's challenge `r1`;
/// returns the card's challenge R2.
///
/// # Panics
/// When the card refuses a step, or answers another template.
#[track_caller]
pub fn mutual_challenge(card: &mut Card, mse_p1: u8, r1: &[u8]) -> Vec<u8> {
    ok(card, &[0, 0x22, mse_p1, 0xA4, 3, 0x83, 1, 0x80]);
    let resp = ok(
        card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x81, r1)),
            Some(256),
        ),
    );
    let len = u8::try_from(r1.len()).unwrap();
    assert_eq!(&resp[..4], &[0x7C, len + 2, 0x81, len]);
    resp[4..].to_vec()
}

/// The PUT DATA 3FFF body (`70 { 84 kid, A5 { 83 02, 84 00, 87 SEQUENCE } }`) that imports
/// an RSA key into key file `kid`: the integers n, e, d, p, q (big-endian, as the card
/// stores them; the CRT values are recomputed by the card and sent as 1).
pub fn rsa_import_body(kid: u8, n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Vec<u8> {
    let mut seq = Vec::new();
    for int in [&[0u8][..], n, e, d, p, q, &[1], &[1], &[1]] {
        let mut v = int.to_vec();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        tlv::write(&mut seq, 0x02, &v);
    }
    let mut template = tlv::encode(0x83, &[2]);
    tlv::write(&mut template, 0x84, &[0]);
    tlv::write(&mut template, 0x87, &tlv::encode(0x30, &seq));
    let mut body = tlv::encode(0x84, &[kid]);
    tlv::write(&mut body, 0xA5, &template);
    tlv::encode(0x70, &body)
}

/// Mutual authentication with the default administrator key.
///
/// # Panics
/// When the card refuses it.
#[track_caller]
pub fn authenticate(card: &mut Card) {
    assert_eq!(admin_auth(card, &DEFAULT_ADMIN_KEY), 0x9000);
}

/// The FCP of a key file for a key exchange (decrypt and sign) RSA key, as OpenSC creates
/// it: key reference `kid`, algorithm `alg`.
pub fn keyexchange_fcp(kid: u8, alg: u8) -> Vec<u8> {
    let mut crts = Vec::new();
    for (tag, a) in [
        (0xB8, alg),
        (0xB8, 0x80 | alg),
        (0xB8, 0x40 | alg),
        (0xB6, 0x10 | alg),
        (0xB6, 0x50 | alg),
    ] {
        let mut crt = tlv::encode(0x80, &[a]);
        tlv::write(&mut crt, 0x83, &[kid]);
        tlv::write(&mut crt, 0x95, &[0x40]);
        tlv::write(&mut crts, tag, &crt);
    }
    let mut body = tlv::encode(0x82, &[0x18]);
    tlv::write(&mut body, 0x83, &[0xB0, kid]);
    tlv::write(&mut body, 0x8C, &[0x8F, 0x10, 0x10, 0x10, 0x00]);
    tlv::write(&mut body, 0xA5, &crts);
    tlv::encode(0x62, &body)
}

/// The RSA public key of key `kid` (GET DATA `70 { 84 kid, A5 { 7F49 } }`).
pub fn read_public(card: &mut Card, kid: u8) -> rsa::PublicKey {
    let resp = ok(
        card,
        &cmd(
            0xCB,
            0x3F,
            0xFF,
            &[0x70, 0x08, 0x84, 0x01, kid, 0xA5, 0x03, 0x7F, 0x49, 0x80],
            Some(256),
        ),
    );
    let inner = tlv::expect_single(&resp, 0x7F49).unwrap();
    let n = tlv::find(inner, 0x81).unwrap().unwrap();
    let e = tlv::find(inner, 0x82).unwrap().unwrap();
    rsa::PublicKey::new(
        BoxedUint::from_be_slice(n, (n.len() * 8) as u32).unwrap(),
        BoxedUint::from_be_slice(e, 64).unwrap(),
    )
    .unwrap()
}

/// Creates and activates a key exchange key file for `kid` and generates an RSA key of
/// algorithm `alg` in it (needs the administrator); its public key.
pub fn new_key(card: &mut Card, kid: u8, alg: u8) -> rsa::PublicKey {
    ok(card, &cmd(0xE0, 0, 0, &keyexchange_fcp(kid, alg), None));
    ok(card, &[0, 0x44, 0, 0]);
    ok(
        card,
        &[0, 0x47, 0, 0, 8, 0xAC, 6, 0x80, 1, alg, 0x83, 1, kid],
    );
    read_public(card, kid)
}

/// A PKCS#1 v1.5 SHA-256 signature of `msg` by key `kid` (MSE SET, then PSO: COMPUTE
/// DIGITAL SIGNATURE over the DigestInfo); the signature and the SW.
pub fn sign_sha256(card: &mut Card, kid: u8, msg: &[u8]) -> (Vec<u8>, u16) {
    ok(card, &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x57, 0x84, 1, kid]);
    let digest = Sha256::digest(msg);
    let info = softcard::crypto::HashAlg::Sha256.digest_info(&digest);
    send(card, &cmd(0x2A, 0x9E, 0x9A, &info, Some(256)))
}

/// PSO: DECIPHER of `cryptogram` by key `kid` with algorithm `alg` (MSE SET for
/// decipherment first: 47 PKCS#1 v1.5, 87 OAEP SHA-1, 07 raw); the plaintext and the SW.
pub fn decipher(card: &mut Card, kid: u8, alg: u8, cryptogram: &[u8]) -> (Vec<u8>, u16) {
    ok(card, &[0, 0x22, 0x41, 0xB8, 6, 0x80, 1, alg, 0x84, 1, kid]);
    send(card, &cmd(0x2A, 0x80, 0x86, cryptogram, Some(256)))
}

/// A GIDS card from `seed` with its PIN verified and an RSA-2048 key exchange key 81
/// generated by the card: the card, its storage and the key's public half.
pub fn keyed_card(seed: u64) -> (Card, MemoryStorage, rsa::PublicKey) {
    let (mut card, storage) = crate::gids_card(seed);
    verify_pin(&mut card);
    let public = new_key(&mut card, 0x81, 0x07);
    (card, storage, public)
}

/// PUT DATA of data object `tag` = `value` in EF `ef` (`00 DB EF EF Lc tag len value`); the
/// SW.
pub fn put_do(card: &mut Card, ef: u16, tag: u32, value: &[u8]) -> u16 {
    let [hi, lo] = ef.to_be_bytes();
    send(card, &cmd(0xDB, hi, lo, &tlv::encode(tag, value), None)).1
}
