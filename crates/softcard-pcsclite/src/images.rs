//! The cards served: images named in `SOFTCARD_IMAGES`, loaded once per process on the
//! first `SCardEstablishContext`.
//!
//! `SOFTCARD_IMAGES` holds image paths separated by `:`. The card of the n-th path (from
//! 0) sits in the reader `softcard <KIND> <nn> 00`, KIND being `PIV` or `GIDS`: the
//! names start with `softcard`, which is what `yubico-piv-tool -r softcard` matches. A path
//! whose image cannot be loaded gets one line on standard error naming the file and the
//! problem, and no reader; the other cards are served. Changes the card makes (PINs,
//! keys, objects) are written back to its file atomically. Each image is locked for this
//! process: an image another process holds (a `softcard exec` or `serve`, another program
//! with this library) is not served here, and the message names that process. An image
//! encrypted at rest is opened with the passphrase in the file named by
//! `SOFTCARD_PASSPHRASE_FILE`, or in `SOFTCARD_PASSPHRASE`.
//!
//! The keys run on the backend `SOFTCARD_BACKEND` names (`aws-lc` or `rustcrypto`), by
//! default the fastest compiled in (aws-lc); a name this build cannot honour is reported
//! on standard error and no card is served.

use std::path::Path;
use std::sync::{Once, OnceLock};

use softcard::Profile;
use softcard::crypto::BackendKind;
use softcard_file::FileStorage;
use softcard_file::sealed::Passphrase;
use softcard_pcsc::Registry;

/// The environment variable naming the card images.
pub const IMAGES_VAR: &str = "SOFTCARD_IMAGES";

/// The reader name of the `index`-th card.
pub fn reader_name(profile: Profile, index: usize) -> String {
    softcard_pcsc::served_reader_name(profile, index)
}

/// The process that loaded the images.
static LOADED_BY: OnceLock<u32> = OnceLock::new();

/// The registry a new context of this process opens on: the process-wide one, holding
/// the images' cards, in the process that loaded them; an empty one in a child forked
/// from it, with one message: a child serving its copy of the parent's cards would write
/// over the parent's changes (under `softcard exec` children share the cards).
pub fn registry() -> Registry {
    load_once();
    match LOADED_BY.get() {
        Some(pid) if *pid != std::process::id() => {
            static TOLD: Once = Once::new();
            TOLD.call_once(|| {
                eprintln!(
                    "softcard: the card images are served by process {pid}, which this one \
                     was forked from; no reader here (run the program under `softcard exec` \
                     to share the cards)"
                );
            });
            Registry::new()
        }
        _ => Registry::global().clone(),
    }
}

/// Loads the images named in [`IMAGES_VAR`] into the process-wide registry, once.
pub fn load_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = LOADED_BY.set(std::process::id());
        let Some(list) = std::env::var_os(IMAGES_VAR) else {
            return;
        };
        let list = list.to_string_lossy().into_owned();
        let backend = match softcard_file::backend_from_env() {
            Ok(backend) => backend,
            Err(message) => {
                eprintln!("softcard: {message}; no card is served");
                return;
            }
        };
        for (index, path) in list.split(':').filter(|p| !p.is_empty()).enumerate() {
            if let Err(message) = load(Registry::global(), Path::new(path), index, backend) {
                eprintln!(
                    "softcard: card image {path}: {message}; its reader is not offered \
                     (run the programs that share a card under one `softcard exec`)"
                );
            }
        }
    });
}

/// Loads one image into `registry` as the `index`-th card, its keys on `backend`.
///
/// # Errors
/// A message saying why the image cannot be served.
pub fn load(
    registry: &Registry,
    path: &Path,
    index: usize,
    backend: BackendKind,
) -> Result<String, String> {
    let passphrase = Passphrase::from_env()?;
    let card =
        FileStorage::load_card(path, backend, passphrase.as_ref()).map_err(|e| e.to_string())?;
    let name = reader_name(card.profile(), index);
    registry
        .insert_card(&name, card)
        .map_err(|e| e.to_string())?;
    Ok(name)
}
