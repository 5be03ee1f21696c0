//! The core crate's integration tests, one binary: the card engine with a test applet,
//! the crypto backends, the typed card description, PIV and GIDS flows, golden images,
//! property tests, APDU transcripts and the `yubikey` card.

mod auth_mutations;
mod card;
mod crypto;
mod description;
mod gids;
mod golden;
mod invariants;
mod piv;
mod properties;
mod secrets;
mod session;
mod snapshot;
mod transcripts;
mod yubikey;
