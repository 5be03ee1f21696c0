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
//! with this library) is not served here, and the message names that process.

use std::path::Path;
use std::sync::Once;

use softcard::Profile;
use softcard::crypto::BackendKind;
use softcard_pcsc::{FileStorage, Registry};

/// The environment variable naming the card images.
pub const IMAGES_VAR: &str = "SOFTCARD_IMAGES";

/// The reader name of the `index`-th card.
pub fn reader_name(profile: Profile, index: usize) -> String {
    softcard_pcsc::served_reader_name(profile, index)
}

/// Loads the images named in [`IMAGES_VAR`] into the process-wide registry, once.
pub fn load_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Some(list) = std::env::var_os(IMAGES_VAR) else {
            return;
        };
        let list = list.to_string_lossy().into_owned();
        for (index, path) in list.split(':').filter(|p| !p.is_empty()).enumerate() {
            if let Err(message) = load(Registry::global(), Path::new(path), index) {
                eprintln!(
                    "softcard: card image {path}: {message}; its reader is not offered \
                     (run the programs that share a card under one `softcard exec`)"
                );
            }
        }
    });
}

/// Loads one image into `registry` as the `index`-th card.
///
/// # Errors
/// A message saying why the image cannot be served.
pub fn load(registry: &Registry, path: &Path, index: usize) -> Result<String, String> {
    let card = FileStorage::load_card(path, BackendKind::default()).map_err(|e| e.to_string())?;
    let name = reader_name(card.profile(), index);
    registry
        .insert_card(&name, card)
        .map_err(|e| e.to_string())?;
    Ok(name)
}
