//! [`Context`]: a resource manager context (`SCARDCONTEXT`) and reader listing.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::link::{Link, Remote};
use crate::registry::{Registry, Shared};
use crate::{Card, Error, Protocols, ReaderState, Scope, ShareMode};

pub(crate) struct ContextInner {
    pub(crate) id: u64,
    pub(crate) link: Link,
}

impl Drop for ContextInner {
    fn drop(&mut self) {
        self.link.forget_context(self.id);
    }
}

/// A context on a [`Registry`] (`SCARDCONTEXT`). Cloning shares the context; cards keep it
/// alive. `Send + Sync`.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.inner.id)
            .finish()
    }
}

/// An iterator over the reader names written by [`Context::list_readers`].
#[derive(Clone, Debug)]
pub struct ReaderNames<'buf> {
    buf: &'buf [u8],
    pos: usize,
}

impl<'buf> ReaderNames<'buf> {
    pub(crate) fn new(buf: &'buf [u8]) -> Self {
        ReaderNames { buf, pos: 0 }
    }
}

impl<'buf> Iterator for ReaderNames<'buf> {
    type Item = &'buf CStr;

    fn next(&mut self) -> Option<&'buf CStr> {
        let rest = self.buf.get(self.pos..)?;
        let name = CStr::from_bytes_until_nul(rest).ok()?;
        if name.is_empty() {
            return None;
        }
        self.pos += name.to_bytes_with_nul().len();
        Some(name)
    }
}

/// Writes a multi-string (names, each NUL-terminated, then one more NUL) into `buffer`.
///
/// # Errors
/// [`Error::InsufficientBuffer`] if it does not fit.
pub(crate) fn write_multi_string<'b>(
    names: &[CString],
    buffer: &'b mut [u8],
) -> Result<&'b [u8], Error> {
    let len = multi_string_len(names);
    let out = buffer.get_mut(..len).ok_or(Error::InsufficientBuffer)?;
    let mut pos = 0;
    for n in names {
        let bytes = n.as_bytes_with_nul();
        out.get_mut(pos..pos + bytes.len())
            .ok_or(Error::InsufficientBuffer)?
            .copy_from_slice(bytes);
        pos += bytes.len();
    }
    *out.get_mut(pos).ok_or(Error::InsufficientBuffer)? = 0;
    Ok(out)
}

pub(crate) fn multi_string_len(names: &[CString]) -> usize {
    names
        .iter()
        .map(|n| n.as_bytes_with_nul().len())
        .sum::<usize>()
        + 1
}

impl Context {
    pub(crate) fn open(shared: Arc<Shared>, scope: Scope) -> Context {
        let link = Link::Local(shared);
        let id = link.establish(scope).unwrap_or_default();
        Context {
            inner: Arc::new(ContextInner { id, link }),
        }
    }

    /// Opens a context on the cards of a host process (`SCardEstablishContext`): one that
    /// serves its registry with [`Host`](crate::host::Host) on the Unix socket `socket`,
    /// as `softcard exec` and `softcard serve` do. Every call then acts on the host's
    /// cards, which every other client of that host shares.
    ///
    /// # Errors
    /// [`Error::NoService`] when no host answers on `socket`.
    pub fn establish_on_host(socket: &Path, scope: Scope) -> Result<Context, Error> {
        let link = Link::Remote(Remote::open(socket)?);
        let id = link.establish(scope)?;
        Ok(Context {
            inner: Arc::new(ContextInner { id, link }),
        })
    }

    pub(crate) fn link(&self) -> &Link {
        &self.inner.link
    }

    /// Opens a context on the process-wide [`Registry::global`] (`SCardEstablishContext`).
    ///
    /// # Errors
    /// None today; kept for the `pcsc` signature.
    pub fn establish(scope: Scope) -> Result<Context, Error> {
        Registry::global().establish(scope)
    }

    /// Releases the context (`SCardReleaseContext`); its connections are reset and closed.
    ///
    /// # Errors
    /// [`Error::CantDispose`] (with the context back) while clones or cards still use it.
    pub fn release(self) -> Result<(), (Context, Error)> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                drop(inner);
                Ok(())
            }
            Err(inner) => Err((Context { inner }, Error::CantDispose)),
        }
    }

    /// Whether the context is valid (`SCardIsValidContext`): a context that exists is,
    /// except a host's context in a forked child of the process that opened it.
    ///
    /// # Errors
    /// [`Error::InvalidHandle`] in such a child.
    pub fn is_valid(&self) -> Result<(), Error> {
        self.inner.link.is_valid()
    }

    /// Makes this context's blocked [`Context::get_status_change`] calls return
    /// [`Error::Cancelled`] (`SCardCancel`).
    ///
    /// # Errors
    /// On a host: [`Error::NoService`] when it is gone.
    pub fn cancel(&self) -> Result<(), Error> {
        self.inner.link.cancel(self.inner.id)
    }

    fn reader_list(&self) -> Result<Vec<CString>, Error> {
        self.inner.link.reader_list()
    }

    /// Writes the reader names into `buffer` and iterates over them (`SCardListReaders`).
    ///
    /// # Errors
    /// [`Error::InsufficientBuffer`] if `buffer` is shorter than
    /// [`Context::list_readers_len`].
    pub fn list_readers<'buf>(&self, buffer: &'buf mut [u8]) -> Result<ReaderNames<'buf>, Error> {
        let names = self.reader_list()?;
        if names.is_empty() {
            return Ok(ReaderNames::new(b"\0"));
        }
        Ok(ReaderNames::new(write_multi_string(&names, buffer)?))
    }

    /// The buffer length [`Context::list_readers`] needs.
    ///
    /// # Errors
    /// On a host: [`Error::NoService`] when it is gone.
    pub fn list_readers_len(&self) -> Result<usize, Error> {
        let names = self.reader_list()?;
        Ok(if names.is_empty() {
            0
        } else {
            multi_string_len(&names)
        })
    }

    /// The reader names.
    ///
    /// # Errors
    /// On a host: [`Error::NoService`] when it is gone.
    pub fn list_readers_owned(&self) -> Result<Vec<CString>, Error> {
        self.reader_list()
    }

    /// Connects to the card in a reader (`SCardConnect`). The virtual cards speak T=1.
    ///
    /// # Errors
    /// [`Error::UnknownReader`], [`Error::NoSmartcard`] (empty reader, except in
    /// [`ShareMode::Direct`]), [`Error::SharingViolation`] (exclusive conflicts),
    /// [`Error::ProtoMismatch`] (T=1 not among `preferred_protocols`).
    pub fn connect(
        &self,
        reader: &CStr,
        share_mode: ShareMode,
        preferred_protocols: Protocols,
    ) -> Result<Card, Error> {
        let (id, protocol) =
            self.inner
                .link
                .connect(self.inner.id, reader, share_mode, preferred_protocols)?;
        Ok(Card::new(self.clone(), id, protocol))
    }

    /// Waits until the state of one of `readers` differs from its `current_state`, or the
    /// timeout expires (`SCardGetStatusChange`). `None` waits for ever. Each reader's
    /// `event_state` is updated; the high 16 bits count the card insertions and removals.
    /// The reader [`PNP_NOTIFICATION`](crate::PNP_NOTIFICATION) changes when readers are
    /// added or removed: its high 16 bits are the number of readers, compared with the
    /// high 16 bits of its current state (or, when those are 0, with the number of
    /// readers when the call began, as pcsc-lite does).
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::Cancelled`] (by [`Context::cancel`]).
    pub fn get_status_change<D>(&self, timeout: D, readers: &mut [ReaderState]) -> Result<(), Error>
    where
        D: Into<Option<Duration>>,
    {
        self.inner
            .link
            .get_status_change(self.inner.id, timeout.into(), readers)
    }
}
