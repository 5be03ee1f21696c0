//! The image loader on mutated valid images: a valid image of either profile (fresh or with
//! keys) whose body the input edits, with the header's length and CRC fixed up so that the
//! body parser is reached. An image that loads must write itself back unchanged and load
//! again; its card must answer commands with a status word.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcard::{Card, NoStorage, crypto::BackendKind, image};

#[path = "../../crates/softcard/tests/api/session.rs"]
mod session;

/// The image `base` with its body edited by `edits` (each edit: kind, offset, value) and
/// its header fixed up.
fn mutate(base: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut body = base[image::HEADER_LEN..].to_vec();
    for e in edits.chunks(4) {
        let [kind, hi, lo, value] = [0, 1, 2, 3].map(|i| e.get(i).copied().unwrap_or(0));
        let at = usize::from(u16::from_be_bytes([hi, lo])) % (body.len() + 1);
        match kind % 5 {
            0 | 1 => {
                if let Some(b) = body.get_mut(at) {
                    *b = value;
                }
            }
            2 => body.insert(at, value),
            3 => {
                let end = (at + usize::from(value % 16) + 1).min(body.len());
                body.drain(at..end);
            }
            _ => {
                if let Some(b) = body.get_mut(at) {
                    *b ^= 1 << (value % 8);
                }
            }
        }
    }
    let mut out = base[..image::HEADER_LEN].to_vec();
    out[12..16].copy_from_slice(&(body.len() as u32).to_be_bytes());
    out[16..20].copy_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, edits)) = data.split_first() else {
        return;
    };
    let images = session::valid_images();
    let bytes = mutate(images[usize::from(which) % images.len()], edits);
    // The header is right: whatever is refused is refused by the body parser.
    assert!(
        image::decode(&bytes).is_ok()
            || !matches!(
                image::decode(&bytes),
                Err(image::ImageError::ChecksumMismatch { .. }
                    | image::ImageError::Truncated { .. })
            )
    );
    let Ok(mut card) = Card::load(
        &bytes,
        Box::new(softcard::seeded_rng(1)),
        Box::new(NoStorage),
        BackendKind::RustCrypto,
    ) else {
        return;
    };
    let written = card.image().expect("a loaded card writes its image");
    session::assert_loads_back(&written);
    for apdu in [
        softcard_test_support::piv::SELECT,
        softcard_test_support::gids::SELECT,
        &softcard_test_support::verify_command(b"12345678"),
        &[
            0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00,
        ],
    ] {
        assert!(card.transmit(apdu).len() >= 2);
    }
    session::assert_loads_back(&card.image().unwrap());
});
