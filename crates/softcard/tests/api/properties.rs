//! Property tests: the parsers never panic and round-trip what they encode; the PIN state
//! machine agrees with a simple model; the card survives any byte string.

use proptest::prelude::*;
use softcard::{
    Card, CardOptions, MemoryStorage, Pin, PinPolicy, Profile, Status, apdu, image, tlv,
};
use softcard_test_support::{gids, piv};

proptest! {
    #[test]
    fn apdu_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = apdu::Command::parse(&bytes);
    }

    #[test]
    fn apdu_encode_then_parse_round_trips(
        header in any::<[u8; 4]>(),
        data in proptest::collection::vec(any::<u8>(), 0..700),
        le in proptest::option::of(1usize..=65_536),
    ) {
        let bytes = apdu::encode_command(header[0], header[1], header[2], header[3], &data, le).unwrap();
        let cmd = apdu::Command::parse(&bytes).unwrap();
        prop_assert_eq!([cmd.cla, cmd.ins, cmd.p1, cmd.p2], header);
        prop_assert_eq!(cmd.data, &data[..]);
        prop_assert_eq!(cmd.le, le);
    }

    #[test]
    fn tlv_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for item in tlv::iter(&bytes) {
            let _ = item;
        }
        let _ = tlv::find(&bytes, 0x7F49);
    }

    #[test]
    fn tlv_round_trips(
        tag in prop_oneof![0x01u32..0x1F, 0x5F01u32..0x5F7F, 0x7F01u32..0x7F7F],
        value in proptest::collection::vec(any::<u8>(), 0..70_000),
    ) {
        let enc = tlv::encode(tag, &value);
        let (t, rest) = tlv::parse_one(&enc).unwrap();
        prop_assert_eq!(t.tag, tag);
        prop_assert_eq!(t.value, &value[..]);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn image_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = image::decode(&bytes);
        let mut with_magic = image::MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = image::decode(&with_magic);
    }
}

#[derive(Clone, Debug)]
enum PinOp {
    Verify(bool),
    Set(bool),
    Reset,
}

fn pin_op() -> impl Strategy<Value = PinOp> {
    prop_oneof![
        4 => any::<bool>().prop_map(PinOp::Verify),
        1 => any::<bool>().prop_map(PinOp::Set),
        1 => Just(PinOp::Reset),
    ]
}

proptest! {
    /// The counter goes down by one per wrong value, back to the limit on a right one or a
    /// reset, and a blocked PIN refuses even the right value.
    #[test]
    fn pin_matches_model(max in 1u8..=15, ops in proptest::collection::vec(pin_op(), 0..60)) {
        let policy = PinPolicy { min_len: 4, max_len: 8, max_tries: max };
        let mut pin = Pin::new(b"1234", policy).unwrap();
        let mut value: &[u8] = b"1234";
        let mut tries = max;
        for op in ops {
            match op {
                PinOp::Verify(right) => {
                    let candidate: &[u8] = if right { value } else { b"9999" };
                    let spent = pin.spend_try();
                    if tries == 0 {
                        prop_assert_eq!(spent, Err(Status::AuthenticationBlocked));
                        continue;
                    }
                    prop_assert_eq!(spent, Ok(()));
                    let got = pin.compare(candidate);
                    if right {
                        prop_assert_eq!(got, Ok(()));
                        tries = max;
                    } else {
                        tries -= 1;
                        prop_assert_eq!(got, Err(Status::TriesLeft(tries)));
                    }
                }
                PinOp::Set(short) => {
                    if short {
                        prop_assert_eq!(pin.set(b"12"), Err(Status::WrongData));
                    } else {
                        value = if value == b"1234" { b"55555" } else { b"1234" };
                        pin.set(value).unwrap();
                        tries = max;
                    }
                }
                PinOp::Reset => {
                    pin.reset_counter();
                    tries = max;
                }
            }
            prop_assert_eq!(pin.tries_left(), tries);
            prop_assert_eq!(pin.is_blocked(), tries == 0);
        }
    }
}

/// A card of `profile`, its application selected and, if `verified`, its PIN verified, so
/// that the commands which need the PIN are reached.
fn ready_card(profile: Profile, verified: bool) -> Card {
    let mut card = Card::create_seeded(
        &CardOptions::new(profile),
        3,
        Box::new(MemoryStorage::new()),
    )
    .unwrap();
    let select = if profile == Profile::Piv {
        piv::SELECT
    } else {
        gids::SELECT
    };
    assert_eq!(card.transmit(select).last_chunk(), Some(&[0x90, 0x00]));
    if verified {
        assert_eq!(card.transmit(piv::VERIFY_DEFAULT_PIN), vec![0x90, 0x00]);
    }
    card
}

/// Regression (audit): a GIDS key import whose integers are all zero stripped to an empty
/// modulus, and the size computation underflowed. It is wrong data (6A80) now.
#[test]
fn gids_import_of_all_zero_rsa_integers_is_wrong_data() {
    let mut card = ready_card(Profile::WindowsVsc, true);
    // CREATE FILE for key 81 (RSA-2048, sign and decipher), ACTIVATE FILE
    let mut crts = Vec::new();
    for (tag, alg) in [(0xB8, 0x07), (0xB6, 0x17)] {
        let mut crt = tlv::encode(0x80, &[alg]);
        tlv::write(&mut crt, 0x83, &[0x81]);
        tlv::write(&mut crt, 0x95, &[0x40]);
        tlv::write(&mut crts, tag, &crt);
    }
    let mut fcp = tlv::encode(0x82, &[0x18]);
    tlv::write(&mut fcp, 0x83, &[0xB0, 0x81]);
    tlv::write(&mut fcp, 0x8C, &[0x8F, 0x10, 0x10, 0x10, 0x00]);
    tlv::write(&mut fcp, 0xA5, &crts);
    let create = apdu::encode_command(0x00, 0xE0, 0, 0, &tlv::encode(0x62, &fcp), None).unwrap();
    assert_eq!(card.transmit(&create), vec![0x90, 0x00]);
    assert_eq!(card.transmit(&[0x00, 0x44, 0x00, 0x00]), vec![0x90, 0x00]);
    // PUT DATA 3FFF 70 { 84 81, A5 { 87 { 30 { 02 01 00 (six times) } } } }
    let ints: Vec<u8> = [0x02, 0x01, 0x00].repeat(6);
    let seq = tlv::encode(0x30, &ints);
    let mut template = vec![0x84, 0x01, 0x81];
    tlv::write(&mut template, 0xA5, &tlv::encode(0x87, &seq));
    let data = tlv::encode(0x70, &template);
    let cmd = apdu::encode_command(0x00, 0xDB, 0x3F, 0xFF, &data, None).unwrap();
    assert_eq!(card.transmit(&cmd), vec![0x6A, 0x80]);
}

/// Command bytes: mostly well-formed APDUs (short or extended, with data up to a few
/// hundred bytes) of the instructions the applets know, some raw garbage.
fn command() -> impl Strategy<Value = Vec<u8>> {
    let ins = prop_oneof![
        any::<u8>(),
        proptest::sample::select(vec![
            0x20u8, 0x22, 0x24, 0x2A, 0x2C, 0x44, 0x46, 0x47, 0x86, 0x87, 0x88, 0xA4, 0xC0, 0xCA,
            0xCB, 0xDA, 0xDB, 0xF7, 0xF8, 0xFB, 0xFD, 0xFE,
        ]),
    ];
    let p1p2 = prop_oneof![
        any::<[u8; 2]>(),
        proptest::sample::select(vec![
            [0x00u8, 0x80],
            [0x3F, 0xFF],
            [0x3F, 0x00],
            [0x07, 0x9A],
            [0x11, 0x9C],
            [0x00, 0x9B],
            [0x41, 0xB6],
            [0x41, 0xB8],
            [0x81, 0xB6],
            [0x9E, 0x9A],
            [0x80, 0x86],
            [0x00, 0x00],
            [0x3F, 0xFF],
            [0xA0, 0x00],
        ]),
    ];
    let data = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 0..400),
    ];
    let le = proptest::option::of(prop_oneof![1usize..=256, Just(65_536)]);
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..400),
        4 => (any::<u8>(), ins, p1p2, data, le).prop_map(|(cla, ins, [p1, p2], data, le)| {
            // Mostly class 00 (or a chained 10): other classes are refused up front.
            let cla = match cla % 8 { 0 => cla, 1 => 0x10, 2 => 0x80, _ => 0x00 };
            apdu::encode_command(cla, ins, p1, p2, &data, le).unwrap_or(data)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of byte strings gets a response ending in a status word, never a panic:
    /// on a fresh card and on one whose application is selected and PIN verified, with
    /// commands up to a few hundred bytes.
    #[test]
    fn card_survives_any_bytes(
        profile in prop_oneof![Just(Profile::Piv), Just(Profile::WindowsVsc)],
        prepared in any::<bool>(),
        cmds in proptest::collection::vec(command(), 1..30),
    ) {
        let mut card = if prepared {
            ready_card(profile, true)
        } else {
            Card::create_seeded(&CardOptions::new(profile), 3, Box::new(MemoryStorage::new())).unwrap()
        };
        for c in cmds {
            let r = card.transmit(&c);
            prop_assert!(r.len() >= 2);
        }
    }
}

/// A PIV image (format version 1, see docs/card-image-format.md) whose slot 9D holds the
/// RSA numbers given, written by hand so that they can be anything.
fn piv_image_with_rsa(parts: [&[u8]; 5]) -> Vec<u8> {
    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        assert!(b.len() < 0x4000);
        if b.len() < 0x80 {
            out.push(b.len() as u8);
        } else {
            out.extend_from_slice(&[(b.len() as u8) | 0x80, (b.len() >> 7) as u8]);
        }
        out.extend_from_slice(b);
    }
    let mut state = Vec::new();
    for _ in 0..2 {
        bytes(&mut state, b"12345678"); // PIN, then PUK
        state.extend_from_slice(&[3, 6, 8, 3]);
    }
    state.extend_from_slice(&[1, 1, 0]); // defaults; management key 3DES
    bytes(&mut state, &[1; 24]);
    state.extend_from_slice(&[0, 1]);
    state.extend_from_slice(&[1, 2, 0]); // one key, slot 9D, RSA
    for part in parts {
        bytes(&mut state, part);
    }
    state.extend_from_slice(&[1, 0, 0]); // PIN once, touch never, generated
    state.extend_from_slice(&[0, 7]); // no objects, serial 7
    let body = image::ImageBody {
        profile: Profile::Piv,
        serial: 7,
        applets: vec![image::AppletRecord {
            aid: softcard::piv::AID.to_vec(),
            state,
        }],
    };
    image::encode(&body).unwrap().to_vec()
}

fn load(bytes: &[u8]) -> Result<Card, softcard::Error> {
    Card::load(
        bytes,
        Box::new(softcard::seeded_rng(1)),
        Box::new(MemoryStorage::new()),
        softcard::crypto::BackendKind::RustCrypto,
    )
}

/// Regression (audit): an image whose RSA modulus is empty made `Card::load` panic.
#[test]
fn an_image_with_an_empty_modulus_is_corrupt() {
    // The hand-written image is right: with a real key, it loads.
    let key = softcard::crypto::PrivateKey::generate(
        softcard::crypto::BackendKind::RustCrypto,
        softcard::crypto::KeyAlgorithm::Rsa1024,
        &mut softcard::seeded_rng(2),
    )
    .unwrap();
    let softcard::crypto::KeyMaterial::Rsa { n, e, d, p, q } = key.material() else {
        panic!("not RSA")
    };
    let card = load(&piv_image_with_rsa([n, e, d, p, q])).unwrap();
    assert_eq!(
        card.description().piv().unwrap().key_algorithm(0x9D),
        Some("RSA-1024")
    );
    let err = load(&piv_image_with_rsa([&[], &[], &[], &[], &[]])).unwrap_err();
    assert!(
        matches!(err, softcard::Error::Image(image::ImageError::Corrupt(_))),
        "{err:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Images with any RSA numbers load or are refused as corrupt, never a panic.
    #[test]
    fn images_with_garbage_keys_never_panic(
        n in proptest::collection::vec(any::<u8>(), 0..300),
        e in proptest::collection::vec(any::<u8>(), 0..6),
        d in proptest::collection::vec(any::<u8>(), 0..300),
        p in proptest::collection::vec(any::<u8>(), 0..150),
        q in proptest::collection::vec(any::<u8>(), 0..150),
    ) {
        prop_assert!(load(&piv_image_with_rsa([&n, &e, &d, &p, &q])).is_err());
    }
}
