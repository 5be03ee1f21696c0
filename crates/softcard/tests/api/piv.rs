//! PIV flows that need computation on the host side: management-key authentication with
//! the right and wrong keys, key generation with signatures checked by independent
//! implementations, key import, attestation, and reloading a card from its image.

use p256::ecdsa::{Signature, VerifyingKey, signature::hazmat::PrehashVerifier};
use rsa::{BoxedUint, Pkcs1v15Sign, PublicKey as RsaPublicKey};
use sha2::{Digest, Sha256};
use softcard::{
    Card, CardOptions, MemoryStorage, Profile, Secret,
    crypto::{BackendKind, sym::SymAlg},
    tlv,
};
use softcard_test_support::{
    card_with, load,
    piv::{
        DEFAULT_ADMIN_KEY, generate, keyed_card, mgmt_auth, mgmt_auth_single, ok, send, sign,
        template, verify_pin,
    },
    reload,
};

fn card() -> (Card, MemoryStorage) {
    softcard_test_support::piv_card(11)
}

fn put_probe(card: &mut Card) -> u16 {
    let mut data = tlv::encode(0x5C, &[0x5F, 0xC1, 0x09]);
    tlv::write(&mut data, 0x53, b"probe");
    send(card, 0xDB, 0x3F, 0xFF, &data).1
}

#[test]
fn management_key_3des_right_and_wrong() {
    let (mut c, _) = card();
    let mut wrong = DEFAULT_ADMIN_KEY;
    wrong[23] ^= 0x01 << 1;
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &wrong), 0x6982);
    assert_eq!(put_probe(&mut c), 0x6982);
    assert_eq!(mgmt_auth_single(&mut c, SymAlg::Tdes, &wrong), 0x6982);
    assert_eq!(put_probe(&mut c), 0x6982);
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    assert_eq!(put_probe(&mut c), 0x9000);
    // A wrong attempt after a good one withdraws the authentication (CVE-2025-25201).
    assert_eq!(mgmt_auth_single(&mut c, SymAlg::Tdes, &wrong), 0x6982);
    assert_eq!(put_probe(&mut c), 0x6982);
    assert_eq!(
        mgmt_auth_single(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY),
        0x9000
    );
    assert_eq!(put_probe(&mut c), 0x9000);
}

#[test]
fn management_key_aes_right_and_wrong() {
    for len in [16usize, 24, 32] {
        let key: Vec<u8> = (0..len as u8).collect();
        let mut opts = CardOptions::new(Profile::Piv);
        opts.admin_key = Some(Secret::from_slice(&key));
        opts.admin_key_aes = true;
        let (mut c, _) = card_with(&opts, 12);
        let alg = match len {
            16 => SymAlg::Aes128,
            24 => SymAlg::Aes192,
            _ => SymAlg::Aes256,
        };
        let mut wrong = key.clone();
        wrong[0] ^= 0x80;
        assert_eq!(mgmt_auth(&mut c, alg, &wrong), 0x6982, "AES-{}", len * 8);
        assert_eq!(put_probe(&mut c), 0x6982);
        assert_eq!(mgmt_auth_single(&mut c, alg, &wrong), 0x6982);
        assert_eq!(mgmt_auth(&mut c, alg, &key), 0x9000);
        assert_eq!(put_probe(&mut c), 0x9000);
        assert_eq!(mgmt_auth_single(&mut c, alg, &wrong), 0x6982);
        assert_eq!(put_probe(&mut c), 0x6982);
        // OpenSC asks for random bytes with `00 87 00 9B 7C 02 81 00` whatever the key's
        // algorithm; the answer authenticates nothing.
        let (r, sw) = send(&mut c, 0x87, 0x00, 0x9B, &template(&[(0x81, &[])]));
        assert_eq!(sw, 0x9000, "AES-{}: random bytes", len * 8);
        let random = tlv::expect_single(tlv::expect_single(&r, 0x7C).unwrap(), 0x81).unwrap();
        assert_eq!(random.len(), 16);
        assert_eq!(put_probe(&mut c), 0x6982);
        // But a response under algorithm 00 is not an AES authentication.
        assert_eq!(
            send(&mut c, 0x87, 0x00, 0x9B, &template(&[(0x82, &[0; 16])])).1,
            0x6A86
        );
    }
}

#[test]
fn a_pin_blocked_by_change_reference_data_ends_the_session() {
    let (mut c, _, public) = keyed_card(11, 0x9A, 0x07);
    let pk = rsa_public(&public);
    let block = pkcs1_block(256, &Sha256::digest(b"after a block"));
    verify_pin(&mut c);
    assert_eq!(sign(&mut c, 0x07, 0x9A, &block).1, 0x9000);
    // One wrong old PIN in CHANGE REFERENCE DATA already ends the PIN authentication.
    assert_eq!(send(&mut c, 0x24, 0, 0x80, b"87654321abcdefgh").1, 0x63C2);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, &[]).1, 0x63C2);
    assert_eq!(sign(&mut c, 0x07, 0x9A, &block).1, 0x6982);
    verify_pin(&mut c);
    assert_eq!(send(&mut c, 0x24, 0, 0x80, b"87654321abcdefgh").1, 0x63C2);
    assert_eq!(send(&mut c, 0x24, 0, 0x80, b"87654321abcdefgh").1, 0x63C1);
    assert_eq!(send(&mut c, 0x24, 0, 0x80, b"87654321abcdefgh").1, 0x63C0);
    // Blocked: no signature, and the empty VERIFY says so.
    assert_eq!(send(&mut c, 0x20, 0, 0x80, &[]).1, 0x6983);
    assert_eq!(sign(&mut c, 0x07, 0x9A, &block).1, 0x6982);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, b"12345678").1, 0x6983);
    // The PUK unblocks; the key signs again after a VERIFY.
    ok(&mut c, 0x2C, 0, 0x80, b"1234567812345678");
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, 0x07, 0x9A, &block);
    assert_eq!(sw, 0x9000);
    pk.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(b"after a block"),
        &sig,
    )
    .unwrap();
}

#[test]
fn p256_generate_sign_verify_and_pin_always() {
    let (mut c, _, public) = keyed_card(11, 0x9C, 0x11);
    let point = tlv::expect_single(&public, 0x86).unwrap();
    let vk = VerifyingKey::from_sec1_bytes(point).unwrap();
    let digest = Sha256::digest(b"softcard");
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, 0x6982, "no PIN");
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, 0x11, 0x9C, &digest);
    assert_eq!(sw, 0x9000);
    let sig = Signature::from_der(&sig).unwrap();
    vk.verify_prehash(&digest, &sig).unwrap();
    assert!(vk.verify_prehash(&Sha256::digest(b"other"), &sig).is_err());
    assert_eq!(
        sign(&mut c, 0x11, 0x9C, &digest).1,
        0x6982,
        "PIN always: once per VERIFY"
    );
    // An empty VERIFY does not count as a fresh verification.
    ok(&mut c, 0x20, 0, 0x80, &[]);
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, 0x6982);
    verify_pin(&mut c);
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, 0x9000);
    // A wrong PIN does not leave a fresh verification behind.
    verify_pin(&mut c);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, b"00000000\xFF\xFF").1, 0x6A80);
    let (_, sw) = send(&mut c, 0x20, 0, 0x80, b"87654321");
    assert_eq!(sw, 0x63C2);
    assert_eq!(sign(&mut c, 0x11, 0x9C, &digest).1, 0x6982);
}

fn rsa_public(fields: &[u8]) -> RsaPublicKey {
    let n = tlv::find(fields, 0x81).unwrap().unwrap();
    let e = tlv::find(fields, 0x82).unwrap().unwrap();
    RsaPublicKey::new(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
    )
    .unwrap()
}

fn pkcs1_block(k: usize, digest: &[u8]) -> Vec<u8> {
    let prefix: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let t = [prefix, digest].concat();
    let mut block = vec![0x00, 0x01];
    block.resize(k - t.len() - 1, 0xFF);
    block.push(0);
    block.extend_from_slice(&t);
    block
}

#[test]
fn rsa2048_generate_sign_verify_and_reload() {
    let (mut c, storage, public) = keyed_card(11, 0x9A, 0x07);
    let pk = rsa_public(&public);
    let digest = Sha256::digest(b"chained RSA-2048");
    let block = pkcs1_block(256, &digest);
    assert_eq!(
        sign(&mut c, 0x07, 0x9A, &block).1,
        0x6982,
        "PIN once: not yet verified"
    );
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, 0x07, 0x9A, &block);
    assert_eq!(sw, 0x9000);
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
    // Once per session: a second signature needs no new VERIFY.
    assert_eq!(sign(&mut c, 0x07, 0x9A, &block).1, 0x9000);

    // A certificate object too; then rebuild the card from its image.
    let mut put = tlv::encode(0x5C, &[0x5F, 0xC1, 0x05]);
    tlv::write(&mut put, 0x53, &[0x70, 0x02, 0xAB, 0xCD, 0x71, 0x01, 0x00]);
    ok(&mut c, 0xDB, 0x3F, 0xFF, &put);
    let chuid = ok(
        &mut c,
        0xCB,
        0x3F,
        0xFF,
        &tlv::encode(0x5C, &[0x5F, 0xC1, 0x02]),
    );
    let mut c = reload(&storage, 5);
    assert_eq!(
        sign(&mut c, 0x07, 0x9A, &block).1,
        0x6982,
        "the session did not survive"
    );
    verify_pin(&mut c);
    let (sig2, _) = sign(&mut c, 0x07, 0x9A, &block);
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig2)
        .unwrap();
    let cert = ok(
        &mut c,
        0xCB,
        0x3F,
        0xFF,
        &tlv::encode(0x5C, &[0x5F, 0xC1, 0x05]),
    );
    assert_eq!(cert, [0x53, 0x07, 0x70, 0x02, 0xAB, 0xCD, 0x71, 0x01, 0x00]);
    assert_eq!(
        ok(
            &mut c,
            0xCB,
            0x3F,
            0xFF,
            &tlv::encode(0x5C, &[0x5F, 0xC1, 0x02])
        ),
        chuid
    );
    let meta = ok(&mut c, 0xF7, 0, 0x9A, &[]);
    assert_eq!(tlv::find(&meta, 0x04).unwrap().unwrap(), &public[..]);
    let described = c.description();
    let slot = described.piv().unwrap().slot(0x9A).unwrap();
    assert_eq!(slot.key.as_ref().unwrap().algorithm, "RSA-2048");
    assert!(slot.certificate);
}

#[test]
fn rsa_import_rebuilds_the_key() {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let mut rng = softcard::seeded_rng(3);
    let key = rsa::PrivateKey::new(&mut rng, 1024).unwrap();
    let primes = key.primes();
    let (p, q) = (
        primes[0].to_be_bytes_trimmed_vartime(),
        primes[1].to_be_bytes_trimmed_vartime(),
    );
    let (mut c, _) = card();
    let mut data = Vec::new();
    tlv::write(&mut data, 0x01, &p);
    tlv::write(&mut data, 0x02, &q);
    for tag in [0x03, 0x04, 0x05] {
        tlv::write(&mut data, tag, &[0x01]); // recomputed by the card
    }
    assert_eq!(
        send(&mut c, 0xFE, 0x06, 0x9D, &data).1,
        0x6982,
        "needs the management key"
    );
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    assert_eq!(
        send(&mut c, 0xFE, 0x07, 0x9D, &data).1,
        0x6A80,
        "not a 2048-bit key"
    );
    ok(&mut c, 0xFE, 0x06, 0x9D, &data);
    let meta = ok(&mut c, 0xF7, 0, 0x9D, &[]);
    assert_eq!(tlv::find(&meta, 0x03).unwrap().unwrap(), [0x02], "imported");
    let fields = tlv::find(&meta, 0x04).unwrap().unwrap();
    assert_eq!(
        tlv::find(fields, 0x81).unwrap().unwrap(),
        &key.n().as_ref().to_be_bytes_trimmed_vartime()[..]
    );
    verify_pin(&mut c);
    let digest = Sha256::digest(b"imported");
    let (sig, sw) = sign(&mut c, 0x06, 0x9D, &pkcs1_block(128, &digest));
    assert_eq!(sw, 0x9000);
    key.to_public_key()
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
}

#[test]
fn attestation_certificate_is_signed_by_the_attestation_key() {
    let (mut c, _) = card_with(
        &{
            let mut o = CardOptions::new(Profile::Piv);
            o.serial = Some(0x01020304);
            o
        },
        13,
    );
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    let public = generate(&mut c, 0x9A, 0x11);
    let point = tlv::expect_single(&public, 0x86).unwrap();
    let cert = ok(&mut c, 0xF9, 0x9A, 0, &[]);
    let ca_meta = ok(&mut c, 0xF7, 0, 0xF9, &[]);
    let ca_point = tlv::expect_single(tlv::find(&ca_meta, 0x04).unwrap().unwrap(), 0x86).unwrap();
    let ca = VerifyingKey::from_sec1_bytes(ca_point).unwrap();
    // Certificate ::= SEQUENCE { tbs, algorithm, signature BIT STRING }
    let body = tlv::expect_single(&cert, 0x30).unwrap();
    let (tbs, after_tbs) = tlv::parse_one(body).unwrap();
    let tbs_der = &body[..body.len() - after_tbs.len()];
    let (_, rest) = tlv::parse_one(after_tbs).unwrap();
    let sig = tlv::expect_single(rest, 0x03).unwrap();
    let sig = Signature::from_der(&sig[1..]).unwrap();
    ca.verify_prehash(&Sha256::digest(tbs_der), &sig).unwrap();
    // The attested key, the serial (extension .3.7) and the policies (.3.8) are inside.
    let contains = |needle: &[u8]| tbs.value.windows(needle.len()).any(|w| w == needle);
    assert!(contains(point));
    assert!(contains(&[0x02, 0x04, 0x01, 0x02, 0x03, 0x04]));
    assert!(contains(&[0x04, 0x02, 0x02, 0x01]), "PIN once, touch never");
    // The CA certificate in 5FFF01 carries the same key.
    let object = ok(
        &mut c,
        0xCB,
        0x3F,
        0xFF,
        &tlv::encode(0x5C, &[0x5F, 0xFF, 0x01]),
    );
    let ca_cert = tlv::find(tlv::expect_single(&object, 0x53).unwrap(), 0x70)
        .unwrap()
        .unwrap();
    assert!(ca_cert.windows(ca_point.len()).any(|w| w == ca_point));
}

#[test]
fn pin_try_is_written_before_the_comparison() {
    use softcard::storage::FailingStorage;
    let storage = FailingStorage::new(MemoryStorage::new());
    let opts = CardOptions::new(Profile::Piv);
    let mut c = Card::create_seeded(&opts, 21, Box::new(storage.clone())).unwrap();
    storage.set_failing(true);
    // The right PIN, but the spent try cannot be written: no comparison is made, and the
    // card goes back to the state its storage holds (the try was never recorded).
    assert_eq!(send(&mut c, 0x20, 0, 0x80, b"12345678").1, 0x6581);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, &[]).1, 0x63C3);
    storage.set_failing(false);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, b"12345678").1, 0x9000);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, &[]).1, 0x9000);
}

#[test]
fn serial_matches_the_card() {
    let (mut c, _) = card();
    let serial = ok(&mut c, 0xF8, 0, 0, &[]);
    assert_eq!(serial, c.serial().to_be_bytes());
}

#[test]
fn options_are_checked() {
    let mut opts = CardOptions::new(Profile::Piv);
    opts.pin = Some(Secret::from_slice(b"12345"));
    assert!(Card::create_seeded(&opts, 1, Box::new(MemoryStorage::new())).is_err());
    let mut opts = CardOptions::new(Profile::Piv);
    opts.admin_key = Some(Secret::from_slice(&[1; 16]));
    assert!(
        Card::create_seeded(&opts, 1, Box::new(MemoryStorage::new())).is_err(),
        "16-byte 3DES"
    );
    opts.admin_key_aes = true;
    assert!(Card::create_seeded(&opts, 1, Box::new(MemoryStorage::new())).is_ok());
    let mut opts = CardOptions::new(Profile::Piv);
    opts.pin = Some(Secret::from_slice(b"123456"));
    let (mut c, _) = card_with(&opts, 2);
    assert_eq!(send(&mut c, 0x20, 0, 0x80, b"123456\xFF\xFF").1, 0x9000);
    let meta = ok(&mut c, 0xF7, 0, 0x80, &[]);
    assert_eq!(
        tlv::find(&meta, 0x05).unwrap().unwrap(),
        [0x00],
        "not the default PIN"
    );
}

/// RSA-3072 (05) and RSA-4096 (16): generation, a signature over a host-padded block
/// verified by the `rsa` crate, the metadata's algorithm.
fn rsa_large_generate_sign_verify(alg: u8, bits: usize, slot: u8) {
    let (mut c, _) = card();
    assert_eq!(
        send(
            &mut c,
            0x47,
            0,
            slot,
            &tlv::encode(0xAC, &tlv::encode(0x80, &[alg]))
        )
        .1,
        0x6982,
        "needs the management key"
    );
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    let public = generate(&mut c, slot, alg);
    let pk = rsa_public(&public);
    assert_eq!(rsa::traits::PublicKeyParts::size(&pk), bits / 8);
    assert_eq!(tlv::find(&public, 0x82).unwrap().unwrap(), [1, 0, 1]);
    let digest = Sha256::digest(format!("PIV RSA-{bits}").as_bytes());
    let block = pkcs1_block(bits / 8, &digest);
    assert_eq!(sign(&mut c, alg, slot, &block).1, 0x6982, "no PIN yet");
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, alg, slot, &block);
    assert_eq!(sw, 0x9000);
    assert_eq!(sig.len(), bits / 8);
    pk.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
    // Another algorithm identifier, or a block of another length, is refused (6A80, as a
    // YubiKey).
    assert_eq!(sign(&mut c, 0x07, slot, &block).1, 0x6A80);
    assert_eq!(sign(&mut c, alg, slot, &block[1..]).1, 0x6A80);
    let meta = ok(&mut c, 0xF7, 0, slot, &[]);
    assert_eq!(tlv::find(&meta, 0x01).unwrap().unwrap(), [alg]);
    assert_eq!(tlv::find(&meta, 0x04).unwrap().unwrap(), &public[..]);
}

#[test]
fn rsa3072_generate_sign_verify() {
    rsa_large_generate_sign_verify(0x05, 3072, 0x9A);
}

#[test]
fn rsa4096_generate_sign_verify() {
    rsa_large_generate_sign_verify(0x16, 4096, 0x9D);
}

/// The BIT group template 7F61 (SP 800-73-4 Part 1 Table 3) carries its own tag, like the
/// discovery object: PUT DATA `7F61 {…}`, GET DATA with the tag list `5C 02 7F 61`.
#[test]
fn bit_group_template_put_and_get() {
    let (mut c, _) = card();
    let get = [0x5C, 0x02, 0x7F, 0x61];
    assert_eq!(send(&mut c, 0xCB, 0x3F, 0xFF, &get).1, 0x6A82, "empty");
    let bit = [0x7F, 0x61, 0x03, 0x02, 0x01, 0x00];
    assert_eq!(send(&mut c, 0xDB, 0x3F, 0xFF, &bit).1, 0x6982);
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    ok(&mut c, 0xDB, 0x3F, 0xFF, &bit);
    assert_eq!(ok(&mut c, 0xCB, 0x3F, 0xFF, &get), bit);
}

/// IMPORT KEY into F9 replaces the attestation key: the next attestation is signed by it.
#[test]
fn imported_attestation_key_signs_attestations() {
    let (mut c, _) = card();
    let scalar: [u8; 32] = core::array::from_fn(|i| i as u8 + 1);
    let mut data = tlv::encode(0x06, &scalar);
    assert_eq!(send(&mut c, 0xFE, 0x11, 0xF9, &data).1, 0x6982);
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    data.truncate(data.len() - 1);
    assert_eq!(send(&mut c, 0xFE, 0x11, 0xF9, &data).1, 0x6A80);
    ok(&mut c, 0xFE, 0x11, 0xF9, &tlv::encode(0x06, &scalar));
    let ca = *p256::ecdsa::SigningKey::from_slice(&scalar)
        .unwrap()
        .verifying_key();
    generate(&mut c, 0x9A, 0x11);
    let cert = ok(&mut c, 0xF9, 0x9A, 0, &[]);
    let body = tlv::expect_single(&cert, 0x30).unwrap();
    let (_, after_tbs) = tlv::parse_one(body).unwrap();
    let tbs_der = &body[..body.len() - after_tbs.len()];
    let (_, rest) = tlv::parse_one(after_tbs).unwrap();
    let sig = tlv::expect_single(rest, 0x03).unwrap();
    let sig = Signature::from_der(&sig[1..]).unwrap();
    ca.verify_prehash(&Sha256::digest(tbs_der), &sig).unwrap();
}

/// The certificate's TBS (as DER), the signature algorithm and the signature value.
fn split_certificate(cert: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let body = tlv::expect_single(cert, 0x30).unwrap();
    let (_, after_tbs) = tlv::parse_one(body).unwrap();
    let tbs_der = &body[..body.len() - after_tbs.len()];
    let (alg, rest) = tlv::parse_one(after_tbs).unwrap();
    let sig = tlv::expect_single(rest, 0x03).unwrap();
    (tbs_der, alg.value, &sig[1..])
}

/// The P-384 key of a `7F49 { 86 point }` or `04 { 86 point }` body.
fn p384_public(fields: &[u8]) -> p384::ecdsa::VerifyingKey {
    let point = tlv::expect_single(fields, 0x86).unwrap();
    assert_eq!(
        (point.len(), point[0]),
        (97, 0x04),
        "uncompressed P-384 point"
    );
    p384::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap()
}

/// Checks a DER ECDSA P-384 signature over a digest, as the p384 crate takes it.
fn p384_verifies(vk: &p384::ecdsa::VerifyingKey, digest: &[u8], der: &[u8]) -> bool {
    let sig = p384::ecdsa::Signature::from_der(der).unwrap();
    PrehashVerifier::<p384::ecdsa::Signature>::verify_prehash(vk, digest, &sig).is_ok()
}

/// ECDH with a host key: the card's answer must be the host's own shared secret.
fn p384_ecdh_agrees(c: &mut Card, slot: u8, card_key: &p384::ecdsa::VerifyingKey) -> u16 {
    use p384::elliptic_curve::sec1::ToSec1Point;
    let host = p384::SecretKey::from_slice(&[0x42; 48]).unwrap();
    let host_point = host.public_key().to_sec1_point(false);
    let (r, sw) = send(
        c,
        0x87,
        0x14,
        slot,
        &template(&[(0x82, &[]), (0x85, host_point.as_bytes())]),
    );
    if sw == 0x9000 {
        let shared = tlv::expect_single(tlv::expect_single(&r, 0x7C).unwrap(), 0x82).unwrap();
        let card_public = p384::PublicKey::from(card_key);
        let expected =
            p384::ecdh::diffie_hellman(host.to_nonzero_scalar(), card_public.as_affine());
        assert_eq!(shared, &expected.raw_secret_bytes()[..]);
    }
    sw
}

#[test]
fn p384_generate_sign_verify_agree_and_reload() {
    use sha2::{Sha384, Sha512};
    let (mut c, storage) = card();
    // Announced in the SELECT response: AC { ..., 80 01 14, ... }
    let apt = ok(&mut c, 0xA4, 0x04, 0x00, softcard::piv::AID);
    assert!(apt.windows(3).any(|w| w == [0x80, 0x01, 0x14]));
    assert_eq!(
        send(
            &mut c,
            0x47,
            0,
            0x9A,
            &tlv::encode(0xAC, &tlv::encode(0x80, &[0x14]))
        )
        .1,
        0x6982,
        "needs the management key"
    );
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    let public = generate(&mut c, 0x9A, 0x14);
    let vk = p384_public(&public);

    let digest = Sha384::digest(b"softcard P-384");
    assert_eq!(sign(&mut c, 0x14, 0x9A, &digest).1, 0x6982, "no PIN");
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, 0x14, 0x9A, &digest);
    assert_eq!(sw, 0x9000);
    assert!(p384_verifies(&vk, &digest, &sig));
    assert!(!p384_verifies(&vk, &Sha384::digest(b"other"), &sig));
    // The digest as the host sends it: a shorter one is the same integer (as OpenSSL
    // verifies ECDSA), a longer one is truncated to its leftmost 384 bits.
    let short = Sha256::digest(b"SHA-256 with P-384");
    let (sig, _) = sign(&mut c, 0x14, 0x9A, &short);
    assert!(p384_verifies(&vk, &short, &sig));
    let long = Sha512::digest(b"SHA-512 with P-384");
    let (sig, _) = sign(&mut c, 0x14, 0x9A, &long);
    assert!(p384_verifies(&vk, &long[..48], &sig));
    assert_eq!(sign(&mut c, 0x11, 0x9A, &digest).1, 0x6A80, "not P-256");
    assert_eq!(p384_ecdh_agrees(&mut c, 0x9A, &vk), 0x9000);

    let meta = ok(&mut c, 0xF7, 0, 0x9A, &[]);
    assert_eq!(tlv::find(&meta, 0x01).unwrap().unwrap(), [0x14]);
    assert_eq!(tlv::find(&meta, 0x02).unwrap().unwrap(), [0x02, 0x01]);
    assert_eq!(
        tlv::find(&meta, 0x03).unwrap().unwrap(),
        [0x01],
        "generated"
    );
    assert_eq!(tlv::find(&meta, 0x04).unwrap().unwrap(), &public[..]);

    // Rebuilt from its image, in every backend: the same key signs and agrees.
    let image = storage.image().unwrap();
    for backend in BackendKind::available() {
        let mut c = load(&image, 5, backend);
        ok(&mut c, 0xA4, 0x04, 0x00, softcard::piv::AID);
        verify_pin(&mut c);
        let (sig, sw) = sign(&mut c, 0x14, 0x9A, &digest);
        assert_eq!(sw, 0x9000, "{backend:?}");
        assert!(p384_verifies(&vk, &digest, &sig), "{backend:?}");
        assert_eq!(p384_ecdh_agrees(&mut c, 0x9A, &vk), 0x9000);
        let meta = ok(&mut c, 0xF7, 0, 0x9A, &[]);
        assert_eq!(tlv::find(&meta, 0x04).unwrap().unwrap(), &public[..]);
        assert_eq!(
            c.description().piv().unwrap().key_algorithm(0x9A),
            Some("ECC P-384")
        );
    }
}

#[test]
fn p384_import_and_pin_policies() {
    let scalar: [u8; 48] = core::array::from_fn(|i| i as u8 + 7);
    let host = p384::ecdsa::SigningKey::from_slice(&scalar).unwrap();
    let (mut c, _) = card();
    let mut data = tlv::encode(0x06, &scalar);
    tlv::write(&mut data, 0xAA, &[0x03]); // PIN always
    assert_eq!(send(&mut c, 0xFE, 0x14, 0x9D, &data).1, 0x6982);
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    // A P-384 scalar is no P-256 key, nor a P-256 scalar a P-384 key.
    assert_eq!(send(&mut c, 0xFE, 0x11, 0x9D, &data).1, 0x6A80);
    let short = tlv::encode(0x06, &scalar[..32]);
    assert_eq!(send(&mut c, 0xFE, 0x14, 0x9D, &short).1, 0x6A80);
    ok(&mut c, 0xFE, 0x14, 0x9D, &data);

    let meta = ok(&mut c, 0xF7, 0, 0x9D, &[]);
    assert_eq!(tlv::find(&meta, 0x01).unwrap().unwrap(), [0x14]);
    assert_eq!(tlv::find(&meta, 0x02).unwrap().unwrap(), [0x03, 0x01]);
    assert_eq!(tlv::find(&meta, 0x03).unwrap().unwrap(), [0x02], "imported");
    let vk = p384_public(tlv::find(&meta, 0x04).unwrap().unwrap());
    assert_eq!(vk, *host.verifying_key());

    // PIN always: one VERIFY, one operation (a signature or an ECDH).
    let digest = sha2::Sha384::digest(b"imported P-384");
    assert_eq!(sign(&mut c, 0x14, 0x9D, &digest).1, 0x6982);
    verify_pin(&mut c);
    let (sig, sw) = sign(&mut c, 0x14, 0x9D, &digest);
    assert_eq!(sw, 0x9000);
    assert!(p384_verifies(&vk, &digest, &sig));
    assert_eq!(sign(&mut c, 0x14, 0x9D, &digest).1, 0x6982);
    assert_eq!(p384_ecdh_agrees(&mut c, 0x9D, &vk), 0x6982);
    verify_pin(&mut c);
    assert_eq!(p384_ecdh_agrees(&mut c, 0x9D, &vk), 0x9000);
    // Imported keys are not attested.
    assert_eq!(send(&mut c, 0xF9, 0x9D, 0, &[]).1, 0x6A80);

    // 9E: PIN never by default; 9C: PIN always by default.
    assert_eq!(mgmt_auth(&mut c, SymAlg::Tdes, &DEFAULT_ADMIN_KEY), 0x9000);
    let e = p384_public(&generate(&mut c, 0x9E, 0x14));
    let s = p384_public(&generate(&mut c, 0x9C, 0x14));
    ok(&mut c, 0x20, 0xFF, 0x80, &[]); // log out
    let (sig, sw) = sign(&mut c, 0x14, 0x9E, &digest);
    assert_eq!(sw, 0x9000, "9E needs no PIN");
    assert!(p384_verifies(&e, &digest, &sig));
    assert_eq!(sign(&mut c, 0x14, 0x9C, &digest).1, 0x6982);
    verify_pin(&mut c);
    let (sig, _) = sign(&mut c, 0x14, 0x9C, &digest);
    assert!(p384_verifies(&s, &digest, &sig));
    assert_eq!(sign(&mut c, 0x14, 0x9C, &digest).1, 0x6982);
}

#[test]
fn p384_attestation_carries_the_p384_key() {
    use p384::pkcs8::DecodePublicKey;
    let (mut c, _, public) = keyed_card(11, 0x9A, 0x14);
    let vk = p384_public(&public);
    let cert = ok(&mut c, 0xF9, 0x9A, 0, &[]);
    let (tbs_der, _, sig) = split_certificate(&cert);
    // Signed by the (P-256) attestation key.
    let ca_meta = ok(&mut c, 0xF7, 0, 0xF9, &[]);
    let ca_point = tlv::expect_single(tlv::find(&ca_meta, 0x04).unwrap().unwrap(), 0x86).unwrap();
    let ca = VerifyingKey::from_sec1_bytes(ca_point).unwrap();
    ca.verify_prehash(&Sha256::digest(tbs_der), &Signature::from_der(sig).unwrap())
        .unwrap();
    // TBSCertificate: version, serial, signature, issuer, validity, subject, SPKI, ...
    let tbs = tlv::expect_single(tbs_der, 0x30).unwrap();
    let fields: Vec<_> = tlv::iter(tbs).map(Result::unwrap).collect();
    let spki = tlv::encode(0x30, fields[6].value);
    let attested = p384::PublicKey::from_public_key_der(&spki).unwrap();
    assert_eq!(attested, p384::PublicKey::from(&vk));
}
