//! The card a one-shot command talks to: the image's own card, loaded and locked here, or,
//! when a host (`softcard exec`, `softcard serve`) holds the image, that host's card,
//! reached as one more PC/SC client. Then the change is seen at once by the host's other
//! clients and never overwritten by the host's next write.
//!
//! The host's cards run on the host's crypto backend: a command that asks for another one
//! (`--backend`, `SOFTCARD_BACKEND`) is refused, naming the host's.

use std::path::Path;

use softcard::crypto::BackendKind;

use softcard_enroll::{Transport, TransportError};
use softcard_file::image_lock::{Holder, LockError};
use softcard_file::{FileStorage, LoadError};
use softcard_pcsc::{Context, Disposition, MAX_BUFFER_SIZE_EXTENDED, Protocols, Scope, ShareMode};

use crate::common::{BackendArg, CliError, OpenArgs, load_error};

/// A card for one command.
pub enum CliCard {
    /// The image's card, in this process.
    Local(Box<softcard::Card>),
    /// The card of the host holding the image, inside a transaction that lasts as long as
    /// the command: the host's other clients wait meanwhile.
    Hosted(Hosted),
}

/// A connection to a host's card, in a transaction.
pub struct Hosted {
    /// Kept for the connection's lifetime.
    _context: Context,
    card: Option<softcard_pcsc::Card>,
}

impl Drop for Hosted {
    fn drop(&mut self) {
        if let Some(mut card) = self.card.take() {
            let _ = card.end_transaction(Disposition::LeaveCard);
            // As yubico-piv-tool and OpenSC do: the PIN verified here is not left to the
            // host's other clients.
            let _ = card.disconnect(Disposition::ResetCard);
        }
    }
}

impl Transport for CliCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self {
            CliCard::Local(card) => Ok(softcard::Card::transmit(card, apdu)),
            CliCard::Hosted(h) => {
                let card = h
                    .card
                    .as_ref()
                    .ok_or_else(|| TransportError::new("the connection is closed"))?;
                let mut buf = vec![0u8; MAX_BUFFER_SIZE_EXTENDED];
                card.transmit(apdu, &mut buf)
                    .map(<[u8]>::to_vec)
                    .map_err(|e| TransportError::new(format!("the serving host: {e}")))
            }
        }
    }
}

impl CliCard {
    /// Resets the card (logs the PIN out), as a reader's reset does.
    pub fn reset(&mut self) {
        match self {
            CliCard::Local(card) => {
                card.reset();
            }
            CliCard::Hosted(h) => {
                if let Some(card) = h.card.as_mut() {
                    let _ = card.end_transaction(Disposition::ResetCard);
                    let _ =
                        card.reconnect(ShareMode::Shared, Protocols::T1, Disposition::LeaveCard);
                    let _ = card.transaction().map(std::mem::forget);
                }
            }
        }
    }
}

/// Opens the card of the image at `path` for a command that may change it: the image's
/// own card, or the card of the host that holds it.
///
/// # Errors
/// As [`load_error`] describes; a host that does not answer, or does not serve the image,
/// or runs its cards on another backend than the one asked for.
///
/// A host holding an encrypted image has opened it already: no passphrase is needed to use
/// its card, and one that is given is checked against the file all the same (a wrong one
/// is refused, as it would be without the host).
pub fn open(path: &Path, open: &OpenArgs) -> Result<CliCard, CliError> {
    let passphrase = open.passphrase.resolve()?;
    match FileStorage::load_card(path, open.backend.kind(), passphrase.as_ref()) {
        Ok(card) => Ok(CliCard::Local(Box::new(card))),
        Err(LoadError::Lock(LockError::Held(
            holder @ Holder {
                socket: Some(_), ..
            },
        ))) => {
            if let Some(passphrase) = &passphrase {
                FileStorage::read_card(path, open.backend.kind(), Some(passphrase))
                    .map_err(|e| load_error(path, &e))?;
            }
            hosted(path, &holder, open.backend)
        }
        Err(e) => Err(load_error(path, &e)),
    }
}

/// The backend the card of the image at `path` runs on for a command that only looks at
/// it: the backend of the host that holds the image, if one does, else the one asked for
/// (or the default).
///
/// # Errors
/// A host that does not answer or does not serve the image; one on another backend than
/// the one asked for.
pub fn backend_in_use(path: &Path, backend: BackendArg) -> Result<BackendKind, CliError> {
    let Some(holder) = softcard_file::image_lock::holder(path).filter(|h| h.socket.is_some())
    else {
        return Ok(backend.kind());
    };
    let reader = host_reader(path, &holder, backend)?;
    reader.backend.parse().map_err(|e| {
        CliError::new(format!(
            "{}: {holder}, runs it on a backend this build cannot load: {e}",
            path.display()
        ))
    })
}

fn fail(path: &Path, what: &str, e: softcard_pcsc::Error) -> CliError {
    CliError::new(format!(
        "{}: the softcard process serving it {what}: {e}",
        path.display()
    ))
}

/// The reader in which the host holding the image at `path` serves it, after checking
/// that its backend is the one asked for (if any).
fn host_reader(
    path: &Path,
    holder: &Holder,
    backend: BackendArg,
) -> Result<softcard_pcsc::host::ReaderInfo, CliError> {
    let socket = holder.socket.as_deref().unwrap_or(Path::new(""));
    let real = softcard_file::image_lock::resolve(path)
        .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    let reader = softcard_pcsc::host::list(socket)
        .map_err(|e| fail(path, "does not answer", e))?
        .into_iter()
        .find(|r| r.image.as_deref() == Some(real.as_path()))
        .ok_or_else(|| {
            fail(
                path,
                "does not list it",
                softcard_pcsc::Error::UnknownReader,
            )
        })?;
    match backend.requested() {
        Some(asked) if asked.name() != reader.backend => Err(CliError::usage(format!(
            "{}: {holder}, runs its cards on the {} backend; --backend {} (or {}) cannot \
             apply to it: leave it out, or stop that process first",
            path.display(),
            reader.backend,
            asked.name(),
            softcard_file::BACKEND_VAR,
        ))),
        _ => Ok(reader),
    }
}

fn hosted(path: &Path, holder: &Holder, backend: BackendArg) -> Result<CliCard, CliError> {
    let fail = |what: &str, e| fail(path, what, e);
    let socket = holder.socket.as_deref().unwrap_or(Path::new(""));
    let reader = host_reader(path, holder, backend)?;
    let context =
        Context::establish_on_host(socket, Scope::User).map_err(|e| fail("does not answer", e))?;
    let name = std::ffi::CString::new(reader.name)
        .map_err(|_| fail("names a bad reader", softcard_pcsc::Error::InvalidValue))?;
    let mut card = context
        .connect(&name, ShareMode::Shared, Protocols::T1)
        .map_err(|e| fail("refused the connection", e))?;
    card.transaction()
        .map(std::mem::forget)
        .map_err(|e| fail("refused a transaction", e))?;
    Ok(CliCard::Hosted(Hosted {
        _context: context,
        card: Some(card),
    }))
}
