//! softcard's fronts to the PC/SC world.
//!
//! - An in-process API shaped like the [`pcsc`](https://docs.rs/pcsc) crate 2.x:
//!   [`Context`], [`Card`], [`Transaction`], [`ReaderState`], [`Scope`], [`ShareMode`],
//!   [`Protocols`], [`Disposition`], [`State`], [`Status`] and [`Error`] (the `SCARD_*`
//!   codes), with the same names and signatures, so code written for `pcsc` runs on
//!   virtual cards after `use softcard_pcsc as pcsc;`. The readers live in a
//!   [`Registry`]; cards are inserted and removed at run time.
//! - [`VirtualReader`]: a test fixture in one expression, a reader with a card made to
//!   order (`VirtualReader::builder().profile(Profile::Piv).pin("123456").seed(42).build()?`).
//! - [`vpcd`]: the card side of vsmartcard's vpcd protocol, which puts a card in the
//!   real pcscd daemon.
//! - [`fault`]: faults injected on purpose: failed transmissions, status words, latency;
//!   with [`Registry::eject`], [`Registry::reinsert`] and [`Registry::power_cycle`].
//! - [`trace`]: every exchange with the registry's cards recorded to a trace file, or
//!   answered from a recorded one.
//! - [`host`]: serves the cards of a registry to other processes over a Unix socket; the
//!   card images it loads are files of `softcard-file` ([`softcard_file::FileStorage`]).
//!
//! ```
//! use softcard_pcsc::{Context, Protocols, Registry, Scope, ShareMode, MAX_BUFFER_SIZE};
//! use softcard::{Card, CardOptions, NoStorage, Profile};
//!
//! let card = Card::create_seeded(&CardOptions::new(Profile::Piv), 1, Box::new(NoStorage)).unwrap();
//! Registry::global().insert_card("Doc Reader", card).unwrap();
//!
//! let ctx = Context::establish(Scope::User).unwrap();
//! let card = ctx.connect(c"Doc Reader", ShareMode::Shared, Protocols::ANY).unwrap();
//! let mut buf = [0; MAX_BUFFER_SIZE];
//! let select_piv = [0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
//! let response = card.transmit(&select_piv, &mut buf).unwrap();
//! assert_eq!(&response[response.len() - 2..], [0x90, 0x00]);
//! ```
#![forbid(unsafe_code)]

mod card;
mod card_status;
mod context;
mod error;
pub mod fault;
pub mod host;
mod link;
mod ops;
mod registry;
mod status_change;
pub mod trace;
mod types;
mod virtual_reader;
pub mod vpcd;
pub mod wire;

pub use card::{Card, Transaction};
pub use card_status::{CardStatus, CardStatusOwned};
pub use context::{Context, ReaderNames};
pub use error::Error;
pub use registry::{Registry, served_reader_name};
pub use status_change::ReaderState;
pub use types::{
    Attribute, AttributeClass, Disposition, Dword, MAX_ATR_SIZE, MAX_BUFFER_SIZE,
    MAX_BUFFER_SIZE_EXTENDED, PNP_NOTIFICATION, Protocol, Protocols, Scope, ShareMode, State,
    Status, ctl_code,
};
pub use virtual_reader::{BuildError, VirtualReader, VirtualReaderBuilder};
