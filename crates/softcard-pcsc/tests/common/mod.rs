//! Shared by the registry tests: a fresh card, a private registry, APDU helpers.

#![allow(dead_code)]

use softcard::{CardOptions, NoStorage, Profile};
use softcard_pcsc::{Context, Error, MAX_BUFFER_SIZE, Registry, Scope};

/// SELECT of the PIV application.
pub const SELECT_PIV: [u8; 14] = [
    0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
];
/// The first command of a chain (CLA bit 0x10): the card keeps it until the chain ends.
pub const CHAIN_START: [u8; 6] = [0x10, 0xCB, 0x3F, 0xFF, 0x01, 0x00];
/// A command with another header: the card answers 6883 while a chain is pending.
pub const OTHER: [u8; 5] = [0x00, 0x20, 0x00, 0x80, 0x00];

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

/// The status word of a response.
pub fn sw(resp: &[u8]) -> u16 {
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

/// Sends an APDU; the status word back.
pub fn send(card: &softcard_pcsc::Card, apdu: &[u8]) -> Result<u16, Error> {
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf).map(sw)
}
