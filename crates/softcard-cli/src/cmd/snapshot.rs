//! `softcard snapshot`: save a card image's whole state to a file and put it back later,
//! for test fixtures ("a card with a blocked PIN").
//!
//! A snapshot file is a copy of the image file, encrypted if the image is: restoring an
//! encrypted snapshot brings back the passphrase it had. Both commands take the image's
//! lock, so an image that a running `exec` or `serve` holds is refused (restore it while
//! nothing serves it). Files are written atomically: a failure leaves them as they were.

use std::path::{Path, PathBuf};

use softcard_file::FileStorage;
use softcard_file::image_lock::ImageLock;
use softcard_file::sealed;
use zeroize::Zeroizing;

use crate::common::{CliError, lock_error};

/// Arguments of `softcard snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Save the image's state to FILE (replaced if it exists; readable by its owner only).
    Save {
        /// The card image.
        image: PathBuf,
        /// The snapshot file to write.
        file: PathBuf,
    },
    /// Put the state saved in FILE back into the image.
    Restore {
        /// The card image (it must exist and be of the snapshot's profile).
        image: PathBuf,
        /// The snapshot file to read.
        file: PathBuf,
    },
}

/// What a file holds, checked before anything is written.
enum Kind {
    /// An image in clear, of this profile.
    Clear(softcard::Profile),
    /// An encrypted image (its profile is inside).
    Sealed,
}

/// Reads an image or snapshot file and checks that it is one.
fn read_checked(path: &Path) -> Result<(Zeroizing<Vec<u8>>, Kind), CliError> {
    // Refuses a FIFO, a device or an oversized file unread, as every image reader does.
    let bytes = Zeroizing::new(
        softcard_file::read_image(path).map_err(|e| crate::common::load_error(path, &e))?,
    );
    let kind = if sealed::is_sealed(&bytes) {
        sealed::Header::parse(&bytes)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
        Kind::Sealed
    } else {
        let body = softcard::image::decode(&bytes)
            .map_err(|e| CliError::new(format!("{}: not a card image: {e}", path.display())))?;
        Kind::Clear(body.profile)
    };
    Ok((bytes, kind))
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it).
fn write(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    softcard::Storage::save(&mut FileStorage::new(path), bytes)
        .map_err(|e| CliError::new(format!("{}: cannot write: {e}", path.display())))
}

fn lock(image: &Path) -> Result<ImageLock, CliError> {
    if !image.exists() {
        return Err(CliError::new(format!(
            "{}: no such card image",
            image.display()
        )));
    }
    ImageLock::acquire(image).map_err(|e| lock_error(image, &e))
}

/// Runs the action.
///
/// # Errors
/// The image is missing, held by another process or not an image; the snapshot is not
/// one or is of another profile; a file cannot be written.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Save { image, file } => {
            let held = lock(&image)?;
            let (bytes, _) = read_checked(held.image())?;
            write(&file, &bytes)?;
            eprintln!(
                "softcard: saved {} to {} ({} bytes)",
                image.display(),
                file.display(),
                bytes.len()
            );
            Ok(())
        }
        Action::Restore { image, file } => {
            let (bytes, kind) = read_checked(&file)?;
            let held = lock(&image)?;
            if let (Kind::Clear(snap), Kind::Clear(now)) = (kind, read_checked(held.image())?.1) {
                if snap != now {
                    return Err(CliError::new(format!(
                        "{}: a snapshot of a {snap} card, {} is a {now} card",
                        file.display(),
                        image.display()
                    )));
                }
            }
            write(held.image(), &bytes)?;
            drop(held);
            eprintln!(
                "softcard: restored {} from {}",
                image.display(),
                file.display()
            );
            Ok(())
        }
    }
}
