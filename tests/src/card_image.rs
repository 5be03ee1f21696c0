//! A card image read the way a card reader would: loaded with `softcard::Card::load`
//! into memory, where changes go nowhere, and sent APDUs. Tests check with it what clients
//! left in an image without touching the file.

use std::path::Path;

use softcard::crypto::BackendKind;
use softcard::{Card, NoStorage, seeded_rng};

/// A card loaded from an image, answering in memory.
pub struct ImageCard {
    card: Card,
}

impl ImageCard {
    /// Loads the image.
    ///
    /// # Panics
    /// If the image cannot be read or loaded.
    pub fn load(image: &Path) -> ImageCard {
        let bytes = std::fs::read(image)
            .unwrap_or_else(|e| panic!("read the card image {}: {e}", image.display()));
        let card = Card::load(
            &bytes,
            Box::new(seeded_rng(0)),
            Box::new(NoStorage),
            BackendKind::default(),
        )
        .unwrap_or_else(|e| panic!("load the card image {}: {e}", image.display()));
        ImageCard { card }
    }

    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        self.card.atr()
    }

    /// Sends one APDU, collecting `61xx` continuations; returns the data and the final
    /// status word.
    pub fn transmit(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        softcard_test_support::send(&mut self.card, apdu)
    }
}
