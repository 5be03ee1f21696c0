//! Shared by the registry tests: a fresh card, a private registry, APDU helpers.

#![allow(dead_code)]

use softcard::{CardOptions, NoStorage, Profile};
use softcard_pcsc::{Context, Error, MAX_BUFFER_SIZE, Registry, Scope};
use softcard_test_support::apdu;
pub use softcard_test_support::{piv::SELECT as SELECT_PIV, sw};

/// The first command of a chain (CLA bit 0x10): the card keeps it until the chain ends.
pub const CHAIN_START: &[u8] = apdu!("10 CB 3F FF 01 00");
/// A command with another header: the card answers 6883 while a chain is pending.
pub const OTHER: &[u8] = apdu!("00 20 00 80 00");

/// A PIV card keeping no image.
pub fn new_card() -> softcard::Card {
    softcard::Card::create_seeded(&CardOptions::new(Profile::Piv), 7, Box::new(NoStorage)).unwrap()
}

/// A private registry with a card in `reader`, and a context on it.
pub fn setup(reader: &str) -> (Registry, Context) {
    let reg = Registry::new();
    reg.insert_card(reader, new_card()).unwrap();
    let ctx = reg.establish(Scope::User).unwrap();
    (reg, ctx)
}

/// Sends an APDU; the status word back.
pub fn send(card: &softcard_pcsc::Card, apdu: &[u8]) -> Result<u16, Error> {
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf).map(sw)
}

/// A writer the test can read back (a trace recorder's output).
#[derive(Clone, Default)]
pub struct Buf(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    /// What was written, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
