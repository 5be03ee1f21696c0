#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod apdu;
pub mod applet;
pub mod card;
pub mod crypto;
pub mod description;
pub mod gids;
pub mod image;
mod options;
pub mod pin;
pub mod piv;
pub mod profile;
pub mod status;
pub mod storage;
pub mod tlv;
pub mod yubikey;

pub use apdu::Command;
pub use applet::{Applet, Context, Effect, Outcome};
pub use card::{Card, Error, Snapshot, seeded_rng};
pub use description::CardDescription;
pub use image::ImageError;
pub use options::{CardOptions, Profile};
pub use pin::{Pin, PinPolicy, PinStore, Secret};
pub use status::Status;
pub use storage::{MemoryStorage, NoStorage, Storage};
