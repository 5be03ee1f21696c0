//! Property tests: the parsers never panic and round-trip what they encode; the PIN state
//! machine agrees with a simple model; the card survives any byte string.

use proptest::prelude::*;
use softcard::{
    Card, CardOptions, MemoryStorage, Pin, PinPolicy, Profile, Status, apdu, image, tlv,
};

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of byte strings gets a response ending in a status word, never a panic.
    #[test]
    fn card_survives_any_bytes(
        profile in prop_oneof![Just(Profile::Piv), Just(Profile::WindowsVsc)],
        cmds in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..30),
    ) {
        let mut card = Card::create_seeded(&CardOptions::new(profile), 3, Box::new(MemoryStorage::new())).unwrap();
        for c in cmds {
            let r = card.transmit(&c);
            prop_assert!(r.len() >= 2);
        }
    }
}
