//! softcard card images in files.
//!
//! The core (`softcard`) never touches files: a card hands each new image to a
//! [`softcard::Storage`]. This crate is that storage for a file, and what goes with it:
//!
//! - [`FileStorage`]: an image in a file, replaced atomically at every change (a new
//!   temporary file, synced, renamed over the image; mode 0600).
//! - [`FileStorage::load_card`] and [`FileStorage::read_card`]: a card from its file, with
//!   randomness from the system ([`os_rng`]); [`LoadError`] says why not.
//! - [`image_lock`]: one writing process per image, across processes, and who that is.
//! - [`sealed`]: images encrypted at rest with a passphrase (Argon2id, XChaCha20-Poly1305).
//! - [`backend_from_env`]: the crypto backend a process loads its cards on, from
//!   [`BACKEND_VAR`] (the libpcsclite drop-in, and the command line's default).
//!
//! The PC/SC fronts (`softcard-pcsc`, the drop-in library) and the command line load
//! their images through it; nothing here knows about readers or sockets.
//!
//! ```
//! use softcard::crypto::BackendKind;
//! use softcard::{Card, CardOptions, Profile};
//! use softcard_file::FileStorage;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("card.img");
//! let storage = Box::new(FileStorage::new(&path));
//! drop(Card::create_seeded(&CardOptions::new(Profile::Piv), 1, storage).unwrap());
//! // The image is on disk; loading it takes the image for this process.
//! let card = FileStorage::load_card(&path, BackendKind::default(), None).unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), card.image().unwrap());
//! ```
#![forbid(unsafe_code)]

pub mod image_lock;
pub mod sealed;
mod storage;

pub use storage::{FileStorage, LoadError, MAX_IMAGE_FILE_LEN, os_rng, read_image};

use softcard::crypto::BackendKind;

/// The environment variable naming the crypto backend (`aws-lc` or `rustcrypto`) of the
/// cards a process loads: read by the libpcsclite drop-in, and the command line's default
/// for `--backend`. Unset, the default backend, the fastest compiled in
/// ([`BackendKind::default`]).
pub const BACKEND_VAR: &str = "SOFTCARD_BACKEND";

/// The backend [`BACKEND_VAR`] names, or the default one when it is unset.
///
/// # Errors
/// A message naming the variable and the problem: an unknown name, a backend not
/// compiled into this build, a value that is not UTF-8.
pub fn backend_from_env() -> Result<BackendKind, String> {
    match std::env::var(BACKEND_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(BackendKind::default()),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{BACKEND_VAR}: not UTF-8")),
        Ok(name) => name.parse().map_err(|e| format!("{BACKEND_VAR}: {e}")),
    }
}
