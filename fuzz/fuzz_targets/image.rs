//! Feeds arbitrary bytes to the card image loader: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcard::{Card, NoStorage, crypto::BackendKind};

fuzz_target!(|data: &[u8]| {
    let _ = Card::load(
        data,
        Box::new(softcard::seeded_rng(1)),
        Box::new(NoStorage),
        BackendKind::RustCrypto,
    );
});
