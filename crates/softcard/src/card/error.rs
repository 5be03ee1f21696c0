//! Why a card could not be created or loaded. (A command's error is its status word,
//! [`Status`]; this is the error of the calls around the APDU path.)

use core::fmt;
use std::io;

use crate::{ImageError, Status, crypto::BackendKind};

/// Why a card could not be created or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An option was rejected (a PIN of the wrong length...), with the status word that
    /// the card would give.
    InvalidOption(Status),
    /// The image could not be read.
    Image(ImageError),
    /// The storage refused the first image: its I/O error, cause kept.
    Storage(io::Error),
    /// The crypto backend asked for is not compiled into this build (a card is created
    /// or loaded with `BackendKind::AwsLc` without the cargo feature `aws-lc`).
    BackendUnavailable(BackendKind),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidOption(s) => write!(f, "invalid card option (status {s})"),
            Error::Image(e) => e.fmt(f),
            Error::Storage(e) => write!(f, "cannot write the card image: {e}"),
            Error::BackendUnavailable(kind) => write!(
                f,
                "the crypto backend {} is not compiled into this softcard (cargo feature {} of the softcard crate)",
                kind.name(),
                kind.name()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Image(e) => Some(e),
            Error::Storage(e) => Some(e),
            Error::InvalidOption(_) | Error::BackendUnavailable(_) => None,
        }
    }
}

impl From<ImageError> for Error {
    fn from(e: ImageError) -> Self {
        Error::Image(e)
    }
}
