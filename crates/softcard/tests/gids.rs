//! GIDS flows that need computation on the host side: the administrator's mutual
//! authentication, key generation and signatures checked with the `rsa` crate, decipherment
//! with extended APDUs and with chaining, key import, reload from the image, and the
//! initialization of a blank card as gids-tool does it.

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
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

fn tdes_cbc(key: &[u8], data: &[u8], encrypt: bool) -> Vec<u8> {
    let c = des::TdesEde3::new_from_slice(key).unwrap();
    let mut prev = [0u8; 8];
    let mut out = Vec::new();
    for chunk in data.chunks(8) {
        let mut block = des::cipher::Block::<des::TdesEde3>::try_from(chunk).unwrap();
        if encrypt {
            block.iter_mut().zip(prev).for_each(|(b, p)| *b ^= p);
            c.encrypt_block(&mut block);
            prev.copy_from_slice(&block);
        } else {
            c.decrypt_block(&mut block);
            block.iter_mut().zip(prev).for_each(|(b, p)| *b ^= p);
            prev.copy_from_slice(chunk);
        }
        out.extend_from_slice(&block);
    }
    out
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

#[test]
fn atr_checksum_and_fci() {
    let tck = gids::ATR[1..].iter().fold(0u8, |a, b| a ^ b);
    assert_eq!(tck, 0, "TCK makes the XOR of T0..TCK zero");
    let (mut card, _) = new_card(1);
    let fci = ok(
        &mut card,
        &[
            0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 0x97, 0x42, 0x54, 0x46, 0x59, 0,
        ],
    );
    assert_eq!(
        hex::encode_upper(fci),
        "61124F0BA00000039742544659020173034001C0"
    );
}

#[test]
fn admin_mutual_authentication_right_and_wrong_key() {
    let (mut card, _) = new_card(2);
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
    let (mut card, _) = new_card(3);
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
    let (mut card, storage) = new_card(4);
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
    let image = storage.image().unwrap();
    let mut card = Card::load(
        &image,
        Box::new(softcard::seeded_rng(9)),
        Box::new(storage),
        BackendKind::RustCrypto,
    )
    .unwrap();
    assert_eq!(admin_auth(&mut card, &DEFAULT_ADMIN_KEY), 0x6982);
    assert_eq!(admin_auth(&mut card, &new_key), 0x9000);
}

#[test]
fn generate_sign_and_verify_with_the_rsa_crate() {
    let (mut card, _) = new_card(5);
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
    let (mut card, _) = new_card(6);
    verify_pin(&mut card);
    let public = new_key(&mut card, 0x81, 7);
    let mut rng = softcard::seeded_rng(77);
    let secret = b"session key bytes";
    let ct = public.encrypt(&mut rng, Pkcs1v15Encrypt, secret).unwrap();
    ok(
        &mut card,
        &[0, 0x22, 0x41, 0xB8, 6, 0x80, 1, 0x47, 0x84, 1, 0x81],
    );
    // Extended length.
    let plain = ok(&mut card, &cmd(0x2A, 0x80, 0x86, &ct, Some(256)));
    assert_eq!(plain, secret);
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
    let (mut card, storage) = new_card(7);
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
    let mut body = tlv::encode(0x84, &[0x82]);
    tlv::write(&mut body, 0xA5, &template);
    let data = tlv::encode(0x70, &body);
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
    let cmap = md::encode_cmapfile(std::slice::from_ref(&record)).unwrap();
    ok(
        &mut card,
        &cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF23, &cmap), None),
    );
    let cert = vec![0x30; 1200];
    let stored = md::compress_certificate(&cert).unwrap();
    ok(
        &mut card,
        &cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF24, &stored), None),
    );

    let image = storage.image().unwrap();
    let mut card = Card::load(
        &image,
        Box::new(softcard::seeded_rng(9)),
        Box::new(storage),
        BackendKind::RustCrypto,
    )
    .unwrap();
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
    assert_eq!(
        md::decompress_certificate(tlv::expect_single(&got, 0xDF24).unwrap()).unwrap(),
        cert
    );
    let lines = card.describe().join("\n");
    assert!(lines.contains("key 82: RSA-2048"), "{lines}");
    assert!(lines.contains("container 0 \"imported\""), "{lines}");
    assert!(lines.contains("PIN: 3 of 3"), "{lines}");
}

#[test]
fn thirty_keys_then_6a84() {
    let (mut card, _) = new_card(10);
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
    let (mut card, _) = new_card(11);
    verify_pin(&mut card);
    for i in 0..90u32 {
        ok(
            &mut card,
            &cmd(
                0xDB,
                0xA0,
                0x10,
                &tlv::encode(0xDF24 + i, &[1, 0, 0, 0]),
                None,
            ),
        );
    }
    assert_eq!(
        send(
            &mut card,
            &cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF24 + 90, &[1]), None)
        )
        .1,
        0x6A84
    );
    // Rewriting an existing one and the minidriver files still works.
    ok(
        &mut card,
        &cmd(
            0xDB,
            0xA0,
            0x10,
            &tlv::encode(0xDF24, &[1, 0, 0, 0, 0]),
            None,
        ),
    );
    ok(
        &mut card,
        &cmd(
            0xDB,
            0xA0,
            0x10,
            &tlv::encode(0xDF22, &[0, 0, 1, 0, 1, 0]),
            None,
        ),
    );
}

/// Drives an applet without a card, as the blank card is not a profile yet.
struct Harness {
    applet: GidsApplet,
    rng: rand_chacha::ChaCha20Rng,
}

impl Harness {
    fn send(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Status> {
        let c = Command::parse(apdu).unwrap();
        let mut persist = |_: Vec<u8>| -> Result<(), Status> { Ok(()) };
        let mut ctx = Context::new(&mut self.rng, BackendKind::RustCrypto, &mut persist);
        if c.ins == 0xA4 && c.p1 == 4 {
            self.applet.select(&mut ctx)
        } else {
            self.applet.process(&c, &mut ctx)
        }
    }
}

fn ef_fcp(fid: u16, write: u8, read: u8) -> Vec<u8> {
    let [hi, lo] = fid.to_be_bytes();
    vec![
        0x62, 0x0C, 0x82, 1, 0x39, 0x83, 2, hi, lo, 0x8C, 3, 3, write, read,
    ]
}

#[test]
fn blank_card_initialized_as_gids_tool_does() {
    let mut h = Harness {
        applet: GidsApplet::create_blank(),
        rng: softcard::seeded_rng(12),
    };
    h.send(&[
        0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 0x97, 0x42, 0x54, 0x46, 0x59,
    ])
    .unwrap();
    // gids-tool first checks that there is no master file.
    assert!(
        h.send(&[0, 0xCB, 0xA0, 0, 4, 0x5C, 2, 0xDF, 0x1F, 0])
            .is_err()
    );
    h.send(&cmd(0x24, 1, 0x80, b"4321", None)).unwrap();
    for (fid, write, read) in [
        (0xA000, 0x30, 0),
        (0xA010, 0x30, 0),
        (0xA011, 0x30, 0xFF),
        (0xA012, 0x20, 0),
        (0xA013, 0x30, 0x30),
        (0xA014, 0x20, 0x20),
    ] {
        h.send(&cmd(0xE0, 0, 0, &ef_fcp(fid, write, read), None))
            .unwrap();
        h.send(&[0, 0x44, 0, 0]).unwrap();
    }
    let admin_fcp = [
        0x62, 0x1A, 0x82, 1, 0x18, 0x83, 2, 0xB0, 0x80, 0x8C, 4, 0x87, 0, 0x20, 0xFF, 0xA5, 0x0B,
        0xA4, 9, 0x80, 1, 2, 0x83, 1, 0x80, 0x95, 1, 0xC0,
    ];
    h.send(&cmd(0xE0, 0, 0, &admin_fcp, None)).unwrap();
    h.send(&[0, 0x44, 0, 0]).unwrap();
    let init_key = [0x42u8; 24];
    let mut template = tlv::encode(0x87, &init_key);
    tlv::write(&mut template, 0x88, &[0xB0, 0x73, 0xDC]);
    let mut body = tlv::encode(0x84, &[0x80]);
    tlv::write(&mut body, 0xA5, &template);
    h.send(&cmd(0xDB, 0x3F, 0xFF, &tlv::encode(0x70, &body), None))
        .unwrap();
    let master = md::encode_master_file(&md::initial_master_file()).unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x00, &tlv::encode(0xDF1F, &master), None))
        .unwrap();
    h.send(&cmd(
        0xDB,
        0xA0,
        0x10,
        &tlv::encode(0xDF21, &md::CARDAPPS),
        None,
    ))
    .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF22, &[0; 6]), None))
        .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x10, &[0xDF, 0x23, 0], None))
        .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x12, &tlv::encode(0xDF20, &[7; 16]), None))
        .unwrap();
    h.send(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0xFF]).unwrap();
    h.send(&[0, 0x44, 0, 0]).unwrap();
    // Operational now: the conditions apply.
    let got = h
        .send(&[0, 0xCB, 0xA0, 0, 4, 0x5C, 2, 0xDF, 0x1F, 0])
        .unwrap();
    assert_eq!(tlv::expect_single(&got, 0xDF1F).unwrap(), &master[..]);
    assert_eq!(
        h.send(&cmd(0xDB, 0xA0, 0x12, &tlv::encode(0xDF20, &[8; 16]), None)),
        Err(Status::SecurityStatusNotSatisfied)
    );
    assert_eq!(h.send(&[0, 0x20, 0, 0x80]), Err(Status::TriesLeft(3)));
    assert_eq!(
        h.send(&cmd(0x20, 0, 0x80, b"1234", None)),
        Err(Status::TriesLeft(2))
    );
    h.send(&cmd(0x20, 0, 0x80, b"4321", None)).unwrap();
    // The cmapfile exists empty, as pkcs15 emulation needs it.
    assert_eq!(
        h.send(&[0, 0xCB, 0xA0, 0x10, 4, 0x5C, 2, 0xDF, 0x23, 0])
            .unwrap(),
        [0xDF, 0x23, 0]
    );
    // A second initialization is refused: the files exist.
    assert_eq!(
        h.send(&cmd(0xE0, 0, 0, &ef_fcp(0xA000, 0x30, 0), None)),
        Err(Status::SecurityStatusNotSatisfied)
    );
    let state = h.applet.save().unwrap();
    let again = GidsApplet::load(&state).unwrap();
    assert!(again.describe().iter().any(|l| l == "state: operational"));
}

#[test]
fn minidriver_helpers_round_trip() {
    let master = md::encode_master_file(&md::initial_master_file()).unwrap();
    assert_eq!(master.len(), 1 + 5 * 28);
    assert_eq!(master[0], 1);
    // cardid: directory "", name "cardid", DO DF20, EF A012, little-endian u32s.
    assert_eq!(&master[1 + 28 + 9..1 + 28 + 15], b"cardid");
    assert_eq!(
        &master[1 + 28 + 20..1 + 28 + 28],
        &[0x20, 0xDF, 0, 0, 0x12, 0xA0, 0, 0]
    );
    assert_eq!(
        md::parse_master_file(&master).unwrap(),
        md::initial_master_file()
    );
    let rec = md::ContainerMapRecord {
        name: "{0123}".into(),
        flags: md::CONTAINER_VALID,
        sig_key_bits: 0,
        kx_key_bits: 2048,
    };
    let bytes = rec.encode().unwrap();
    assert_eq!(&bytes[..4], &[b'{', 0, b'0', 0]);
    assert_eq!(&bytes[80..], &[1, 0, 0, 0, 0x00, 0x08]);
    assert_eq!(md::ContainerMapRecord::parse(&bytes).unwrap(), rec);
    let long = md::ContainerMapRecord {
        name: "x".repeat(40),
        ..rec
    };
    assert_eq!(long.encode(), Err(md::FormatError::NameTooLong));
    let name = md::automatic_container_name(&mut softcard::seeded_rng(1));
    assert_eq!(name.len(), 38);
    assert!(
        name.starts_with('{') && name.ends_with('}') && name.as_bytes()[15] == b'4',
        "{name}"
    );
    let stored = md::compress_certificate(b"certificate").unwrap();
    assert_eq!(&stored[..4], &[1, 0, 11, 0]);
    assert_eq!(md::decompress_certificate(&stored).unwrap(), b"certificate");
    assert_eq!(
        md::decompress_certificate(&[2, 0, 0, 0]),
        Err(md::FormatError::UnknownVersion)
    );
    assert_eq!(md::certificate_file_name(0, true), "kxc00");
    let cf = md::CardCf {
        version: 0,
        pins: 1,
        containers: 0x102,
        files: 3,
    };
    assert_eq!(md::CardCf::parse(&cf.encode()).unwrap(), cf);
}
