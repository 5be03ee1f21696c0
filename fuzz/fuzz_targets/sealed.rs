//! The encrypted-image envelope's reader on arbitrary bytes, and on edits of a valid sealed
//! image: the header is accepted or refused, never a panic; an accepted header's parameters
//! are within the accepted ranges (so no file makes a reader derive a key with more memory
//! than the limit); a valid image with any edit does not open.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use softcard_file::sealed::{Header, KdfParams, Passphrase, SealKey, is_sealed};

/// A sealed image made once (key derivation is the slow part), and its passphrase.
fn sample() -> &'static (Vec<u8>, Passphrase) {
    static SAMPLE: OnceLock<(Vec<u8>, Passphrase)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let pass = Passphrase::new(b"fuzz".to_vec()).unwrap();
        let key = SealKey::new(&pass, KdfParams::CHEAPEST).unwrap();
        (key.seal(b"SOFTCARD image body").unwrap(), pass)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::parse(data) {
        assert!(is_sealed(data));
        assert!(header.params.check().is_ok());
    }
    // An edit of a valid sealed image: (offset, xor) pairs from the input.
    let (good, pass) = sample();
    let mut edited = good.clone();
    for pair in data.chunks_exact(2) {
        let at = usize::from(pair[0]) % edited.len();
        edited[at] ^= pair[1];
    }
    if edited != *good {
        // Only the header's cheap checks may pass; then the key derivation (at most the
        // sample's cost, since parameters changed by an edit fail the tag) fails.
        if let Ok(h) = Header::parse(&edited) {
            if h.params == KdfParams::CHEAPEST {
                assert!(
                    SealKey::open(&edited, pass).is_err(),
                    "an edited image opened"
                );
            }
        }
    } else {
        assert!(SealKey::open(&edited, pass).is_ok());
    }
});
