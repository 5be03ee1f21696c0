//! GIDS flows that need computation on the host side: the administrator's mutual
//! authentication, key generation and signatures checked with the `rsa` crate, decipherment
//! with extended APDUs and with chaining, key import, reload from the image, and the
//! initialization of a blank card as gids-tool does it.

#[path = "gids/auth.rs"]
mod auth;
#[path = "gids/blank.rs"]
mod blank;
#[path = "gids/keys.rs"]
mod keys;
#[path = "gids/objects.rs"]
mod objects;

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use rsa::{BoxedUint, Pkcs1v15Encrypt, Pkcs1v15Sign, sha2::Digest, sha2::Sha256};
use softcard::{
    Applet, Card, CardOptions, Command, Context, MemoryStorage, Profile, Status,
    apdu::encode_command,
    crypto::{BackendKind, KeyAlgorithm, KeyMaterial, PrivateKey},
    gids::{self, GidsApplet, minidriver as md},
    profile::DEFAULT_ADMIN_KEY,
    tlv,
};

fn new_card(seed: u64) -> (Card, MemoryStorage) {
    let storage = MemoryStorage::new();
    let card = Card::create_seeded(
        &CardOptions::new(Profile::WindowsVsc),
        seed,
        Box::new(storage.clone()),
    )
    .unwrap();
    (card, storage)
}

/// Sends a command, follows 61xx with GET RESPONSE; returns data and SW.
fn send(card: &mut Card, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut resp = card.transmit(apdu);
    let mut data = Vec::new();
    loop {
        let sw = u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]]);
        data.extend_from_slice(&resp[..resp.len() - 2]);
        if sw >> 8 != 0x61 {
            return (data, sw);
        }
        resp = card.transmit(&[0, 0xC0, 0, 0, 0]);
    }
}

fn ok(card: &mut Card, apdu: &[u8]) -> Vec<u8> {
    let (data, sw) = send(card, apdu);
    assert_eq!(sw, 0x9000, "command {apdu:02X?}");
    data
}

fn cmd(ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    encode_command(0, ins, p1, p2, data, le).unwrap()
}

fn verify_pin(card: &mut Card) {
    ok(card, &cmd(0x20, 0, 0x80, b"12345678", None));
}

fn cbc<C>(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8>
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

fn tdes_cbc(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
    cbc::<des::TdesEde3>(key, data, encrypt)
}

/// The host side of gids-tool's mutual authentication. Returns the final SW.
fn admin_auth(card: &mut Card, key: &[u8]) -> u16 {
    ok(card, &[0, 0x22, 0xC1, 0xA4, 3, 0x83, 1, 0x80]);
    let r1 = [0x5Au8; 16];
    let resp = ok(
        card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x81, &r1)),
            Some(256),
        ),
    );
    assert_eq!(&resp[..4], &[0x7C, 0x12, 0x81, 0x10]);
    let r2 = &resp[4..];
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

/// The key file FCP OpenSC creates for a key exchange (decrypt + sign) key.
fn keyexchange_fcp(kid: u8, alg: u8) -> Vec<u8> {
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

fn read_public(card: &mut Card, kid: u8) -> rsa::PublicKey {
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

fn new_key(card: &mut Card, kid: u8, alg: u8) -> rsa::PublicKey {
    ok(card, &cmd(0xE0, 0, 0, &keyexchange_fcp(kid, alg), None));
    ok(card, &[0, 0x44, 0, 0]);
    ok(
        card,
        &[0, 0x47, 0, 0, 8, 0xAC, 6, 0x80, 1, alg, 0x83, 1, kid],
    );
    read_public(card, kid)
}

fn sign_sha256(card: &mut Card, kid: u8, msg: &[u8]) -> (Vec<u8>, u16) {
    ok(card, &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x57, 0x84, 1, kid]);
    let digest = Sha256::digest(msg);
    let info = softcard::crypto::HashAlg::Sha256.digest_info(&digest);
    send(card, &cmd(0x2A, 0x9E, 0x9A, &info, Some(256)))
}
