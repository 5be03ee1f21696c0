//! The fuzz targets' properties, run by proptest with fixed case counts so that every test
//! run checks them: stateful sessions against both applets (`session.rs`, shared with the
//! `session` fuzz target), the image loader on mutated valid images, TLV round trips.

use proptest::prelude::*;
use softcard::{Card, NoStorage, crypto::BackendKind, image, tlv};

use crate::session;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_0001),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Sessions from every starting state of both profiles keep the card equal to its
    /// stored image, refuse wrong PINs and keys, and leave an image that loads back.
    #[test]
    fn sessions_keep_the_invariants(
        start in any::<u8>(),
        steps in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = vec![start];
        bytes.extend_from_slice(&steps);
        session::run(&bytes);
    }

    /// A valid image whose body is edited (header fixed up) loads or is refused, never a
    /// panic; one that loads writes an image that loads back to itself.
    #[test]
    fn mutated_valid_images_load_or_are_refused(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let base = session::valid_images()[which];
        let mut body = base[image::HEADER_LEN..].to_vec();
        for (at, value, kind) in edits {
            let at = usize::from(at) % body.len();
            match kind {
                0 => body[at] = value,
                1 => body.insert(at, value),
                _ => { body.remove(at); }
            }
        }
        let body_len = u32::try_from(body.len()).unwrap();
        let mut header = base[..image::HEADER_LEN].to_vec();
        header[12..16].copy_from_slice(&body_len.to_be_bytes());
        header[16..20].copy_from_slice(&crc32fast::hash(&body).to_be_bytes());
        header.extend_from_slice(&body);
        if let Ok(card) = Card::load(
            &header,
            Box::new(softcard::seeded_rng(1)),
            Box::new(NoStorage),
            BackendKind::RustCrypto,
        ) {
            session::assert_loads_back(&card.image().unwrap());
        }
    }

    /// Every TLV read re-encodes to one that reads back the same, and `find` returns the
    /// first TLV of a tag.
    #[test]
    fn tlv_items_re_encode(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut seen = Vec::new();
        for item in tlv::iter(&bytes) {
            let Ok(item) = item else { break };
            let enc = tlv::encode(item.tag, item.value);
            let (back, extra) = tlv::parse_one(&enc).unwrap();
            prop_assert_eq!((back.tag, back.value), (item.tag, item.value));
            prop_assert!(extra.is_empty());
            if !seen.contains(&item.tag) {
                if let Ok(found) = tlv::find(&bytes, item.tag) {
                    prop_assert_eq!(found, Some(item.value));
                }
                seen.push(item.tag);
            }
        }
    }
}
