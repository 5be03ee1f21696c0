//! Mutated authentication answers never authenticate: PIV management-key mutual and
//! challenge-response authentication (3DES and AES), the GIDS administrator's mutual
//! authentication (3DES and AES) and external authentication (AES), PIN VERIFY on both cards and the PUK of PIV RESET RETRY COUNTER. Each test
//! first runs the correct exchange (it reaches `9000` and unlocks the guarded operation),
//! then every mutation of the answer: each single-bit flip, truncations by 1..len bytes,
//! extensions by 1..8 bytes, and where they apply a replay of an earlier session's answer,
//! the card's value sent back unprocessed and the challenge echoed. No mutation may answer
//! `9000`, and after each the guarded operation is refused. The counts are printed.

use softcard::{
    Card, CardOptions, Profile, Secret,
    crypto::sym::{SymAlg, SymKey},
    tlv,
};
use softcard_test_support::{card_with, cmd, gids, piv, send};

/// Builds the answer to send from what the host knows (the correct answer first).
type ThreeWay<'a> = &'a dyn Fn(&[u8], &[u8], &[u8]) -> Vec<u8>;
/// [`ThreeWay`] with two inputs.
type TwoWay<'a> = &'a dyn Fn(&[u8], &[u8]) -> Vec<u8>;

/// Every mutation of `answer`: single-bit flips, truncations, extensions.
fn mutations(answer: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for bit in 0..answer.len() * 8 {
        let mut m = answer.to_vec();
        m[bit / 8] ^= 0x80 >> (bit % 8);
        out.push(m);
    }
    for k in 1..=answer.len() {
        out.push(answer[..answer.len() - k].to_vec());
    }
    for k in 1..=8u8 {
        let mut m = answer.to_vec();
        m.extend((0..k).map(|i| i.wrapping_mul(0x3B)));
        out.push(m);
    }
    out
}

fn put_probe(card: &mut Card) -> u16 {
    let mut data = tlv::encode(0x5C, &[0x5F, 0xC1, 0x09]);
    tlv::write(&mut data, 0x53, b"probe");
    piv::send(card, 0xDB, 0x3F, 0xFF, &data).1
}

fn fresh_piv_session(card: &mut Card) {
    card.reset();
    piv::select(card);
}

fn inner(r: &[u8], tag: u32) -> Vec<u8> {
    tlv::expect_single(tlv::expect_single(r, 0x7C).unwrap(), tag)
        .unwrap()
        .to_vec()
}

/// One mutual authentication whose witness answer is `answer(decrypted witness, encrypted
/// witness, host challenge)`; the SW of the second step.
fn piv_mutual(card: &mut Card, alg: SymAlg, sym: &SymKey, answer: ThreeWay) -> (u16, Vec<u8>) {
    let r = piv::ok(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &piv::template(&[(0x80, &[])]),
    );
    let enc = inner(&r, 0x80);
    let mut plain = enc.clone();
    sym.decrypt_block(&mut plain).unwrap();
    let challenge = vec![0x5A; alg.block_len()];
    let witness = answer(&plain, &enc, &challenge);
    let sw = piv::send(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &piv::template(&[(0x80, &witness), (0x81, &challenge)]),
    )
    .1;
    (sw, plain)
}

/// The challenge-response form whose answer is `answer(correct response, challenge)`.
fn piv_single(card: &mut Card, alg: SymAlg, sym: &SymKey, answer: TwoWay) -> (u16, Vec<u8>) {
    let r = piv::ok(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &piv::template(&[(0x81, &[])]),
    );
    let challenge = inner(&r, 0x81);
    let mut correct = challenge.clone();
    sym.encrypt_block(&mut correct).unwrap();
    let sent = answer(&correct, &challenge);
    let sw = piv::send(
        card,
        0x87,
        alg.piv_id(),
        0x9B,
        &piv::template(&[(0x82, &sent)]),
    )
    .1;
    (sw, correct)
}

fn piv_management_key(alg: SymAlg, key: &[u8]) -> usize {
    let mut opts = CardOptions::new(Profile::Piv);
    opts.admin_key = Some(Secret::from_slice(key));
    opts.admin_key_aes = alg != SymAlg::Tdes;
    let (mut card, _) = card_with(&opts, 51);
    let sym = SymKey::from_bytes(alg, key).unwrap();
    let mut tried = 0;
    let mut refused = |card: &mut Card, sw: u16, what: &str| {
        assert_ne!(sw, 0x9000, "{alg:?}: {what} authenticated");
        assert_eq!(put_probe(card), 0x6982, "{alg:?}: after {what}");
        tried += 1;
    };

    // Mutual authentication: the correct answer works, and is remembered for the replay.
    fresh_piv_session(&mut card);
    let (sw, old_witness) = piv_mutual(&mut card, alg, &sym, &|w, _, _| w.to_vec());
    assert_eq!(sw, 0x9000, "{alg:?}: the correct witness");
    assert_eq!(put_probe(&mut card), 0x9000);
    let probe_witness = {
        fresh_piv_session(&mut card);
        piv_mutual(&mut card, alg, &sym, &|w, _, _| w.to_vec()).1
    };
    for m in 0..mutations(&probe_witness).len() {
        fresh_piv_session(&mut card);
        let (sw, _) = piv_mutual(&mut card, alg, &sym, &|w, _, _| mutations(w)[m].clone());
        refused(&mut card, sw, &format!("mutual mutation {m}"));
    }
    fresh_piv_session(&mut card);
    let (sw, _) = piv_mutual(&mut card, alg, &sym, &|_, _, _| old_witness.clone());
    refused(&mut card, sw, "a replayed witness");
    fresh_piv_session(&mut card);
    let (sw, _) = piv_mutual(&mut card, alg, &sym, &|_, enc, _| enc.to_vec());
    refused(&mut card, sw, "the witness sent back encrypted");
    fresh_piv_session(&mut card);
    let (sw, _) = piv_mutual(&mut card, alg, &sym, &|_, _, c| c.to_vec());
    refused(&mut card, sw, "the challenge as witness");
    // A witness with no step 1 at all.
    fresh_piv_session(&mut card);
    let sw = piv::send(
        &mut card,
        0x87,
        alg.piv_id(),
        0x9B,
        &piv::template(&[(0x80, &old_witness), (0x81, &[0x5A; 8])]),
    )
    .1;
    refused(&mut card, sw, "a witness without step 1");

    // Challenge-response.
    fresh_piv_session(&mut card);
    let (sw, old_response) = piv_single(&mut card, alg, &sym, &|r, _| r.to_vec());
    assert_eq!(sw, 0x9000, "{alg:?}: the correct response");
    assert_eq!(put_probe(&mut card), 0x9000);
    for m in 0..mutations(&old_response).len() {
        fresh_piv_session(&mut card);
        let (sw, _) = piv_single(&mut card, alg, &sym, &|r, _| mutations(r)[m].clone());
        refused(&mut card, sw, &format!("response mutation {m}"));
    }
    fresh_piv_session(&mut card);
    let (sw, _) = piv_single(&mut card, alg, &sym, &|_, _| old_response.clone());
    refused(&mut card, sw, "a replayed response");
    fresh_piv_session(&mut card);
    let (sw, _) = piv_single(&mut card, alg, &sym, &|_, c| c.to_vec());
    refused(&mut card, sw, "the challenge echoed");
    fresh_piv_session(&mut card);
    let (sw, _) = piv_single(&mut card, alg, &sym, &|_, c| {
        let mut d = c.to_vec();
        sym.decrypt_block(&mut d).unwrap();
        d
    });
    refused(
        &mut card,
        sw,
        "the challenge decrypted instead of encrypted",
    );
    eprintln!("PIV management key {alg:?}: {tried} wrong answers, none authenticated");
    tried
}

#[test]
fn piv_management_key_3des() {
    piv_management_key(SymAlg::Tdes, &piv::DEFAULT_ADMIN_KEY);
}

#[test]
fn piv_management_key_aes() {
    for (alg, len) in [
        (SymAlg::Aes128, 16u8),
        (SymAlg::Aes192, 24),
        (SymAlg::Aes256, 32),
    ] {
        let key: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xC3).collect();
        piv_management_key(alg, &key);
    }
}

const PIV_PIN: &[u8] = b"73915246";
const PIV_PUK: &[u8] = b"80462913";

/// A PIN-protected object: `6982` before VERIFY, not after.
fn pin_probe(card: &mut Card) -> u16 {
    piv::send(card, 0xCB, 0x3F, 0xFF, &[0x5C, 3, 0x5F, 0xC1, 0x08]).1
}

#[test]
fn piv_pin_and_puk() {
    let mut opts = CardOptions::new(Profile::Piv);
    opts.pin = Some(Secret::from_slice(PIV_PIN));
    opts.puk = Some(Secret::from_slice(PIV_PUK));
    let (mut card, _) = card_with(&opts, 52);
    fresh_piv_session(&mut card);
    assert_eq!(pin_probe(&mut card), 0x6982);
    piv::ok(&mut card, 0x20, 0, 0x80, PIV_PIN);
    assert_ne!(pin_probe(&mut card), 0x6982, "the correct PIN unlocks");
    let mut tried = 0;
    for m in mutations(PIV_PIN) {
        fresh_piv_session(&mut card);
        let sw = piv::send(&mut card, 0x20, 0, 0x80, &m).1;
        assert_ne!(sw, 0x9000, "PIN {m:02X?} verified");
        assert_eq!(pin_probe(&mut card), 0x6982, "after PIN {m:02X?}");
        // The correct PIN restores the tries (and is itself still accepted).
        piv::ok(&mut card, 0x20, 0, 0x80, PIV_PIN);
        tried += 1;
    }
    // The PUK of RESET RETRY COUNTER: the PIN stays what it was.
    let new_pin = b"11223344";
    let mut correct = PIV_PUK.to_vec();
    correct.extend_from_slice(PIV_PIN);
    fresh_piv_session(&mut card);
    piv::ok(&mut card, 0x2C, 0, 0x80, &correct);
    for m in mutations(PIV_PUK) {
        fresh_piv_session(&mut card);
        let mut data = m.clone();
        data.extend_from_slice(new_pin);
        let sw = piv::send(&mut card, 0x2C, 0, 0x80, &data).1;
        assert_ne!(sw, 0x9000, "PUK {m:02X?} accepted");
        assert_eq!(pin_probe(&mut card), 0x6982, "after PUK {m:02X?}");
        // The PIN is unchanged; the correct PUK restores the PUK's tries.
        piv::ok(&mut card, 0x20, 0, 0x80, PIV_PIN);
        piv::ok(&mut card, 0x2C, 0, 0x80, &correct);
        tried += 1;
    }
    eprintln!("PIV PIN and PUK: {tried} wrong answers, none accepted");
}

fn fresh_gids_session(card: &mut Card) {
    card.reset();
    gids::select(card);
}

/// An EF only the administrator writes.
fn admin_probe(card: &mut Card) -> u16 {
    gids::put_do(card, 0xA012, 0xDF30, b"probe")
}

/// CBC encryption (zero IV) of data under a key.
type Encrypt = fn(&[u8], &[u8]) -> Vec<u8>;

/// A GIDS administrator key and the CBC encryption with it (3DES or AES).
struct GidsAdmin {
    key: Vec<u8>,
    /// The MSE SET P1 of the mutual authentication (as gids-tool and the minidriver send).
    mse_p1: u8,
    encrypt: Encrypt,
    /// The cipher's block size: challenges are 16 bytes whatever it is; the padding fills
    /// the last block.
    block: usize,
}

impl GidsAdmin {
    fn card(&self, seed: u64) -> Card {
        let mut opts = CardOptions::new(Profile::WindowsVsc);
        opts.admin_key = Some(Secret::from_slice(&self.key));
        opts.admin_key_aes = self.block == 16;
        card_with(&opts, seed).0
    }
}

/// The GIDS mutual authentication whose cryptogram is `answer(correct cryptogram, plain,
/// R2)`; the SW of the second step and the correct cryptogram.
fn gids_mutual(card: &mut Card, admin: &GidsAdmin, answer: ThreeWay) -> (u16, Vec<u8>) {
    let r1 = [0x5Au8; 16];
    let r2 = gids::mutual_challenge(card, admin.mse_p1, &r1);
    let mut plain = r2.clone();
    plain.extend_from_slice(&r1);
    plain.extend_from_slice(&vec![0x33; admin.block - 1]);
    plain.push(0x80);
    let enc = (admin.encrypt)(&admin.key, &plain);
    let sent = answer(&enc, &plain, &r2);
    let sw = send(
        card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x82, &sent)),
            Some(256),
        ),
    )
    .1;
    (sw, enc)
}

/// The GIDS external authentication (the card's 16-byte challenge encrypted under the
/// key) with the answer `answer(correct answer, challenge)`; its SW and the correct answer.
fn gids_external(card: &mut Card, admin: &GidsAdmin, answer: TwoWay) -> (u16, Vec<u8>) {
    let mse = [0, 0x22, admin.mse_p1, 0xA4, 3, 0x83, 1, 0x80];
    assert_eq!(send(card, &mse).1, 0x9000, "MSE SET");
    let resp = send(card, &cmd(0x87, 0, 0, &[0x7C, 2, 0x81, 0], Some(256))).0;
    assert_eq!(
        &resp[..4],
        &[0x7C, 0x12, 0x81, 0x10],
        "the card's challenge"
    );
    let challenge = resp[4..].to_vec();
    let right = (admin.encrypt)(&admin.key, &challenge);
    let sent = answer(&right, &challenge);
    let sw = send(
        card,
        &cmd(
            0x87,
            0,
            0,
            &tlv::encode(0x7C, &tlv::encode(0x82, &sent)),
            None,
        ),
    )
    .1;
    (sw, right)
}

/// Every wrong answer to the administrator's mutual authentication, and (AES, where the
/// card offers it) to its external authentication; the number tried.
fn gids_administrator_key(admin: &GidsAdmin, seed: u64) -> usize {
    let mut card = admin.card(seed);
    let mut tried = 0;
    let mut refused = |card: &mut Card, sw: u16, what: &str| {
        assert_ne!(sw, 0x9000, "{what} authenticated");
        assert_eq!(admin_probe(card), 0x6982, "after {what}");
        tried += 1;
    };
    fresh_gids_session(&mut card);
    assert_eq!(admin_probe(&mut card), 0x6982);
    let (sw, old) = gids_mutual(&mut card, admin, &|e, _, _| e.to_vec());
    assert_eq!(sw, 0x9000, "the correct cryptogram");
    assert_eq!(admin_probe(&mut card), 0x9000);
    for m in 0..mutations(&old).len() {
        fresh_gids_session(&mut card);
        let (sw, _) = gids_mutual(&mut card, admin, &|e, _, _| mutations(e)[m].clone());
        refused(&mut card, sw, &format!("mutation {m}"));
    }
    fresh_gids_session(&mut card);
    let (sw, _) = gids_mutual(&mut card, admin, &|_, _, _| old.clone());
    refused(&mut card, sw, "a replayed cryptogram");
    fresh_gids_session(&mut card);
    let (sw, _) = gids_mutual(&mut card, admin, &|_, p, _| p.to_vec());
    refused(&mut card, sw, "the plain text unencrypted");
    fresh_gids_session(&mut card);
    let (sw, _) = gids_mutual(&mut card, admin, &|_, _, r2| r2.to_vec());
    refused(&mut card, sw, "the card's challenge echoed");
    if admin.block == 16 {
        fresh_gids_session(&mut card);
        let (sw, old) = gids_external(&mut card, admin, &|right, _| right.to_vec());
        assert_eq!(sw, 0x9000, "the correct external answer");
        assert_eq!(admin_probe(&mut card), 0x9000);
        for m in 0..mutations(&old).len() {
            fresh_gids_session(&mut card);
            let (sw, _) = gids_external(&mut card, admin, &|r, _| mutations(r)[m].clone());
            refused(&mut card, sw, &format!("external mutation {m}"));
        }
        fresh_gids_session(&mut card);
        let (sw, _) = gids_external(&mut card, admin, &|_, _| old.clone());
        refused(&mut card, sw, "a replayed external answer");
        fresh_gids_session(&mut card);
        let (sw, _) = gids_external(&mut card, admin, &|_, c| c.to_vec());
        refused(&mut card, sw, "the external challenge echoed");
    }
    tried
}

#[test]
fn gids_administrator_key_3des() {
    let admin = GidsAdmin {
        key: gids::DEFAULT_ADMIN_KEY.to_vec(),
        mse_p1: 0xC1,
        encrypt: |k, d| gids::tdes_cbc(k, d, true),
        block: 8,
    };
    let tried = gids_administrator_key(&admin, 53);
    eprintln!("GIDS 3DES administrator key: {tried} wrong answers, none authenticated");
}

#[test]
fn gids_administrator_key_aes() {
    let mut tried = 0;
    let ciphers: [(usize, Encrypt); 3] = [
        (16, |k, d| gids::cbc::<aes::Aes128>(k, d, true)),
        (24, |k, d| gids::cbc::<aes::Aes192>(k, d, true)),
        (32, |k, d| gids::cbc::<aes::Aes256>(k, d, true)),
    ];
    for (len, encrypt) in ciphers {
        let admin = GidsAdmin {
            key: (0..len as u8).map(|i| i.wrapping_mul(37) ^ 0x5C).collect(),
            mse_p1: 0x81,
            encrypt,
            block: 16,
        };
        tried += gids_administrator_key(&admin, 55 + len as u64);
    }
    eprintln!("GIDS AES administrator keys: {tried} wrong answers, none authenticated");
}

const GIDS_PIN: &[u8] = b"gids-mutation-pin-5";

/// A DO of an EF readable with the PIN only.
fn gids_pin_probe(card: &mut Card) -> u16 {
    send(
        card,
        &cmd(0xCB, 0xA0, 0x13, &[0x5C, 2, 0xDF, 0x20], Some(256)),
    )
    .1
}

#[test]
fn gids_pin() {
    let mut opts = CardOptions::new(Profile::WindowsVsc);
    opts.pin = Some(Secret::from_slice(GIDS_PIN));
    let (mut card, _) = card_with(&opts, 54);
    fresh_gids_session(&mut card);
    assert_eq!(gids_pin_probe(&mut card), 0x6982);
    softcard_test_support::ok(&mut card, &cmd(0x20, 0, 0x80, GIDS_PIN, None));
    assert_ne!(gids_pin_probe(&mut card), 0x6982, "the correct PIN unlocks");
    let mut tried = 0;
    for m in mutations(GIDS_PIN) {
        fresh_gids_session(&mut card);
        let sw = send(&mut card, &cmd(0x20, 0, 0x80, &m, None)).1;
        assert_ne!(sw, 0x9000, "PIN {m:02X?} verified");
        assert_eq!(gids_pin_probe(&mut card), 0x6982, "after PIN {m:02X?}");
        softcard_test_support::ok(&mut card, &cmd(0x20, 0, 0x80, GIDS_PIN, None));
        tried += 1;
    }
    eprintln!("GIDS PIN: {tried} wrong answers, none accepted");
}
