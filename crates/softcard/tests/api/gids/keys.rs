//! Key files, generation, signatures, decipherment, import, limits.

use super::*;

#[test]
fn generate_sign_and_verify_with_the_rsa_crate() {
    let (mut card, _) = gids_card(5);
    assert_eq!(
        send(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(0x81, 7), None)).1,
        0x6982
    );
    verify_pin(&mut card);
    let public = new_key(&mut card, 0x81, 7);
    let (sig, sw) = sign_sha256(&mut card, 0x81, b"hello GIDS");
    assert_eq!(sw, 0x9000);
    assert_eq!(sig.len(), 256);
    let digest = Sha256::digest(b"hello GIDS");
    public
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
    assert!(
        public
            .verify(
                Pkcs1v15Sign::new::<Sha256>(),
                &Sha256::digest(b"other"),
                &sig
            )
            .is_err()
    );
    // Raw signature (algorithm 17): the host pads.
    ok(
        &mut card,
        &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x17, 0x84, 1, 0x81],
    );
    let mut block = vec![0u8, 1];
    let info = softcard::crypto::HashAlg::Sha256.digest_info(&digest);
    block.resize(256 - info.len() - 1, 0xFF);
    block.push(0);
    block.extend_from_slice(&info);
    let raw = ok(&mut card, &cmd(0x2A, 0x9E, 0x9A, &block, Some(256)));
    assert_eq!(
        raw, sig,
        "raw RSA over the padded block equals the card-padded signature"
    );
    // Logged out: no signature.
    ok(&mut card, &[0, 0x20, 0, 0x82]);
    assert_eq!(sign_sha256(&mut card, 0x81, b"x").1, 0x6982);
}

#[test]
fn decipher_extended_and_chained() {
    let (mut card, _, public) = keyed_card(6);
    let mut rng = softcard::seeded_rng(77);
    let secret = b"session key bytes";
    let ct = public.encrypt(&mut rng, Pkcs1v15Encrypt, secret).unwrap();
    // Extended length.
    assert_eq!(
        decipher(&mut card, 0x81, 0x47, &ct),
        (secret.to_vec(), 0x9000)
    );
    // Chaining in 240-byte blocks, as the TPM card does.
    let (first, rest) = ct.split_at(240);
    let mut part = encode_command(0x10, 0x2A, 0x80, 0x86, first, None).unwrap();
    assert_eq!(card.transmit(&part), [0x90, 0]);
    part = encode_command(0, 0x2A, 0x80, 0x86, rest, Some(256)).unwrap();
    assert_eq!(send(&mut card, &part), (secret.to_vec(), 0x9000));
    // With a padding indicator byte the cryptogram is one byte too long.
    let mut with_pi = vec![0u8];
    with_pi.extend_from_slice(&ct);
    assert_eq!(
        send(&mut card, &cmd(0x2A, 0x80, 0x86, &with_pi, Some(256))).1,
        0x6A80
    );
    // A tampered cryptogram fails.
    let mut bad = ct.clone();
    bad[10] ^= 0xFF;
    assert_ne!(
        send(&mut card, &cmd(0x2A, 0x80, 0x86, &bad, Some(256))).1,
        0x9000
    );
    // The sign environment does not decipher.
    ok(
        &mut card,
        &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x57, 0x84, 1, 0x81],
    );
    assert_eq!(
        send(&mut card, &cmd(0x2A, 0x80, 0x86, &ct, Some(256))).1,
        0x6985
    );
}

#[test]
fn import_by_chained_put_data_and_reload_keeps_everything() {
    let (mut card, storage) = gids_card(7);
    verify_pin(&mut card);
    let key = PrivateKey::generate(
        BackendKind::RustCrypto,
        KeyAlgorithm::Rsa2048,
        &mut softcard::seeded_rng(8),
    )
    .unwrap();
    let KeyMaterial::Rsa { n, e, d, p, q } = key.material() else {
        panic!()
    };
    let data = softcard_test_support::gids::rsa_import_body(0x82, n, e, d, p, q);
    ok(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(0x82, 7), None));
    ok(&mut card, &[0, 0x44, 0, 0]);
    let chunks: Vec<&[u8]> = data.chunks(255).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let cla = if i + 1 < chunks.len() { 0x10 } else { 0 };
        assert_eq!(
            card.transmit(&encode_command(cla, 0xDB, 0x3F, 0xFF, chunk, None).unwrap()),
            [0x90, 0]
        );
    }
    let public = read_public(&mut card, 0x82);
    // Write a container and a certificate as a client does.
    let record = md::ContainerMapRecord {
        name: "imported".into(),
        flags: 3,
        sig_key_bits: 0,
        kx_key_bits: 2048,
    };
    // Its cmapfile: the name in UTF-16LE padded to 80 bytes, the flags, the key sizes.
    let mut cmap: Vec<u8> = "imported"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    cmap.resize(80, 0);
    cmap.extend_from_slice(&[3, 0, 0, 0, 0x00, 0x08]);
    ok(
        &mut card,
        &cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF23, &cmap), None),
    );
    // 1200 bytes 30 as a minidriver stores a certificate: 01 00, the length, zlib.
    let stored = [
        &[1, 0, 0xB0, 0x04][..],
        &[
            0x78, 0x9C, 0x33, 0x30, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x8C, 0x82, 0xA1, 0x01, 0x00,
            0xEC, 0x11, 0xE1, 0x01,
        ],
    ]
    .concat();
    ok(
        &mut card,
        &cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF24, &stored), None),
    );

    let mut card = reload(&storage, 9);
    assert_eq!(
        send(&mut card, &cmd(0x20, 0, 0x80, b"00000000", None)).1,
        0x63C2
    );
    verify_pin(&mut card);
    let (sig, sw) = sign_sha256(&mut card, 0x82, b"after reload");
    assert_eq!(sw, 0x9000);
    public
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"after reload"),
            &sig,
        )
        .unwrap();
    let got = ok(
        &mut card,
        &cmd(0xCB, 0xA0, 0x10, &[0x5C, 2, 0xDF, 0x23], Some(256)),
    );
    assert_eq!(
        md::parse_cmapfile(tlv::expect_single(&got, 0xDF23).unwrap()),
        vec![record]
    );
    let got = ok(
        &mut card,
        &cmd(0xCB, 0xA0, 0x10, &[0x5C, 2, 0xDF, 0x24], Some(256)),
    );
    assert_eq!(tlv::expect_single(&got, 0xDF24).unwrap(), stored);
    let described = card.description();
    let gids = described.gids().unwrap();
    assert_eq!(gids.key_algorithm(0x82), Some("RSA-2048"), "{gids:?}");
    assert!(
        gids.containers
            .iter()
            .any(|c| c.index == 0 && c.name == "imported"),
        "{gids:?}"
    );
    let pin = gids.pin.unwrap();
    assert_eq!((pin.blocked, pin.tries_left, pin.limit), (false, 3, 3));
}

#[test]
fn thirty_keys_then_6a84() {
    let (mut card, _) = gids_card(10);
    verify_pin(&mut card);
    for kid in 0x81..0x81 + 30 {
        ok(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(kid, 7), None));
    }
    assert_eq!(
        send(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(0xA0, 7), None)).1,
        0x6A84
    );
    // Deleting one (as OpenSC does: SELECT the key file, then DELETE FILE) frees a place.
    ok(&mut card, &[0, 0xA4, 0, 0x0C, 2, 0xB0, 0x85]);
    ok(&mut card, &[0, 0xE4, 0, 0]);
    assert_eq!(
        send(&mut card, &[0, 0xA4, 0, 0x0C, 2, 0xB0, 0x85]).1,
        0x6A82
    );
    ok(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(0xA0, 7), None));
}

#[test]
fn ninety_certificates_then_6a84() {
    let (mut card, _) = gids_card(11);
    verify_pin(&mut card);
    for i in 0..90u32 {
        assert_eq!(put_do(&mut card, 0xA010, 0xDF24 + i, &[1, 0, 0, 0]), 0x9000);
    }
    assert_eq!(put_do(&mut card, 0xA010, 0xDF24 + 90, &[1]), 0x6A84);
    // Rewriting an existing one and the minidriver files still works.
    assert_eq!(put_do(&mut card, 0xA010, 0xDF24, &[1, 0, 0, 0, 0]), 0x9000);
    assert_eq!(
        put_do(&mut card, 0xA010, 0xDF22, &[0, 0, 1, 0, 1, 0]),
        0x9000
    );
}

/// The key file OpenSC creates for a signature-only key: two B6 templates, no B8.
fn signature_fcp(kid: u8, alg: u8) -> Vec<u8> {
    let crt = |a: u8| [0xB6, 9, 0x80, 1, a, 0x83, 1, kid, 0x95, 1, 0x40];
    let mut templates = crt(0x10 | alg).to_vec();
    templates.extend_from_slice(&crt(0x50 | alg));
    let mut body = vec![0x82, 1, 0x18, 0x83, 2, 0xB0, kid];
    body.extend_from_slice(&[0x8C, 5, 0x8F, 0x10, 0x10, 0x10, 0x00]);
    tlv::write(&mut body, 0xA5, &templates);
    tlv::encode(0x62, &body)
}

#[test]
fn a_key_serves_only_the_uses_its_file_allows() {
    let (mut card, _) = gids_card(12);
    verify_pin(&mut card);
    ok(&mut card, &cmd(0xE0, 0, 0, &signature_fcp(0x81, 7), None));
    ok(&mut card, &[0, 0x44, 0, 0]);
    ok(
        &mut card,
        &cmd(0x47, 0, 0, &[0xAC, 6, 0x80, 1, 7, 0x83, 1, 0x81], None),
    );
    // Signing is allowed, with the card's padding and raw.
    assert_eq!(sign_sha256(&mut card, 0x81, b"signed").1, 0x9000);
    ok(
        &mut card,
        &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x17, 0x84, 1, 0x81],
    );
    // Decipherment in any padding is not: MSE answers 6A80 and PSO has no environment.
    for alg in [0x47, 0x87, 0x07] {
        assert_eq!(
            send(
                &mut card,
                &[0, 0x22, 0x41, 0xB8, 6, 0x80, 1, alg, 0x84, 1, 0x81]
            )
            .1,
            0x6A80,
            "decipher algorithm {alg:02X}"
        );
        assert_eq!(
            send(&mut card, &cmd(0x2A, 0x80, 0x86, &[0x55; 256], Some(256))).1,
            0x6985
        );
    }
    // Nor a signature algorithm of another key size, nor raw signing without its template.
    for alg in [0x56, 0x07] {
        assert_eq!(
            send(
                &mut card,
                &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, alg, 0x84, 1, 0x81]
            )
            .1,
            0x6A80,
            "sign algorithm {alg:02X}"
        );
    }
}

/// PSO: DECIPHER in each padding the key file allows, against cryptograms the `rsa` crate
/// makes with the public key read back from the card.
#[test]
fn decipher_pkcs1_oaep_and_raw() {
    use rsa::{Oaep, hazmat::rsa_encrypt, traits::PublicKeyParts};
    let (mut card, _, public) = keyed_card(13);
    let mut rng = softcard::seeded_rng(78);
    let secret = b"a 32-byte session key, for AES!!";
    let decipher = |card: &mut Card, alg: u8, ct: &[u8]| decipher(card, 0x81, alg, ct);
    // PKCS#1 v1.5 (47).
    let pkcs1 = public.encrypt(&mut rng, Pkcs1v15Encrypt, secret).unwrap();
    assert_eq!(decipher(&mut card, 0x47, &pkcs1), (secret.to_vec(), 0x9000));
    // OAEP with SHA-1 (87), as Windows asks for it.
    let oaep = public
        .encrypt(&mut rng, Oaep::<sha1::Sha1>::new(), secret)
        .unwrap();
    assert_eq!(decipher(&mut card, 0x87, &oaep), (secret.to_vec(), 0x9000));
    // Raw (07): the card answers the whole block, leading zero bytes included.
    let mut block = vec![0u8; 256];
    block[1] = 2;
    block[2..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8 | 1);
    let m = BoxedUint::from_be_slice(&block, public.n_bits_precision()).unwrap();
    let raw_ct = rsa_encrypt(&public, &m).unwrap().to_be_bytes().to_vec();
    assert_eq!(decipher(&mut card, 0x07, &raw_ct), (block.clone(), 0x9000));
    // Raw decipherment of the PKCS#1 cryptogram shows the padding the card removes.
    let (padded, sw) = decipher(&mut card, 0x07, &pkcs1);
    assert_eq!(sw, 0x9000);
    assert_eq!(&padded[..2], &[0, 2]);
    assert!(padded.ends_with(&[&[0u8][..], secret].concat()));

    // Bad padding: every failure looks alike (same SW, no data), whatever the padding
    // and wherever the cryptogram was changed, so the answers give no padding oracle.
    let mut failures = Vec::new();
    for (alg, ct) in [(0x47, &pkcs1), (0x87, &oaep)] {
        for at in [0, 1, 10, 128, 255] {
            let mut bad = ct.clone();
            bad[at] ^= 0x5A;
            failures.push(((alg, at), decipher(&mut card, alg, &bad)));
        }
    }
    // A cryptogram of the other padding.
    failures.push(((0x47, 999), decipher(&mut card, 0x47, &oaep)));
    failures.push(((0x87, 999), decipher(&mut card, 0x87, &pkcs1)));
    for (what, got) in failures {
        assert_eq!(
            got,
            (Vec::new(), 0x6A80),
            "algorithm, byte changed: {what:02X?}"
        );
    }
    // The card still deciphers after the failures.
    assert_eq!(decipher(&mut card, 0x87, &oaep), (secret.to_vec(), 0x9000));

    // Logged out: no decipherment, in any padding.
    ok(&mut card, &[0, 0x20, 0, 0x82]);
    for (alg, ct) in [(0x47, &pkcs1), (0x87, &oaep), (0x07, &raw_ct)] {
        assert_eq!(
            decipher(&mut card, alg, ct),
            (Vec::new(), 0x6982),
            "algorithm {alg:02X} after log out"
        );
    }
    verify_pin(&mut card);
    assert_eq!(decipher(&mut card, 0x47, &pkcs1), (secret.to_vec(), 0x9000));
}

/// RSA-3072 (algorithm 08) and RSA-4096 (09): generation, public key read-back through
/// GET RESPONSE, a PKCS#1 v1.5 signature verified by the `rsa` crate.
fn generate_and_sign_large(alg: u8, bits: usize, seed: u64) {
    let (mut card, _) = gids_card(seed);
    verify_pin(&mut card);
    let public = new_key(&mut card, 0x81, alg);
    assert_eq!(rsa::traits::PublicKeyParts::size(&public), bits / 8);
    let msg = format!("RSA-{bits} on GIDS");
    ok(
        &mut card,
        &[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x50 | alg, 0x84, 1, 0x81],
    );
    let digest = Sha256::digest(msg.as_bytes());
    let info = softcard::crypto::HashAlg::Sha256.digest_info(&digest);
    let (sig, sw) = send(&mut card, &cmd(0x2A, 0x9E, 0x9A, &info, Some(65536)));
    assert_eq!(sw, 0x9000);
    assert_eq!(sig.len(), bits / 8);
    public
        .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &sig)
        .unwrap();
    // A key of this size does not fit a key file of another.
    ok(&mut card, &cmd(0xE0, 0, 0, &keyexchange_fcp(0x82, 7), None));
    assert_eq!(
        send(
            &mut card,
            &[0, 0x47, 0, 0, 8, 0xAC, 6, 0x80, 1, alg, 0x83, 1, 0x82]
        )
        .1,
        0x6A80
    );
    let described = card.description();
    assert_eq!(
        described.gids().unwrap().key_algorithm(0x81),
        Some(format!("RSA-{bits}").as_str()),
        "{described:?}"
    );
}

#[test]
fn rsa3072_generate_sign_and_verify() {
    generate_and_sign_large(8, 3072, 14);
}

#[test]
fn rsa4096_generate_sign_and_verify() {
    generate_and_sign_large(9, 4096, 15);
}
