//! Where a [`Context`](crate::Context)'s calls go: to a registry in this process, or to
//! the process that hosts the cards, over its Unix socket (see [`host`](crate::host)).
//! [`Context`](crate::Context) and [`Card`](crate::Card) are the same in both cases.

use std::ffi::{CStr, CString};
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ops::HandleStatus;
use crate::registry::{Shared, lock};
use crate::wire::{Op, Reader, Writer, read_frame};
use crate::{Disposition, Error, Protocol, Protocols, ReaderState, ShareMode};

/// A context's way to the cards.
pub(crate) enum Link {
    /// A registry in this process.
    Local(Arc<Shared>),
    /// A host process: one connection per context, as pcsc-lite has one per context.
    Remote(Remote),
}

/// A connection to a host, used by one context.
pub(crate) struct Remote {
    /// Read through a buffer: a response's length and body come in one read.
    stream: Mutex<BufReader<UnixStream>>,
    socket: PathBuf,
    /// The process that opened it: a forked child must not talk on its parent's
    /// connection (pcsc-lite answers `SCARD_E_INVALID_HANDLE` there too).
    pid: u32,
}

/// The disposition byte of [`Op::Disconnect`] for a connection closed because its
/// context is released.
pub(crate) const RELEASED: u8 = 0xFF;

fn protocol_from_u32(p: u32) -> Option<Protocol> {
    [Protocol::T0, Protocol::T1, Protocol::RAW]
        .into_iter()
        .find(|x| *x as u32 == p)
}

impl Remote {
    /// Connects to the host listening on `socket`.
    ///
    /// # Errors
    /// [`Error::NoService`] when no host answers there.
    pub(crate) fn open(socket: &Path) -> Result<Remote, Error> {
        let stream = UnixStream::connect(socket).map_err(|_| Error::NoService)?;
        Ok(Remote {
            stream: Mutex::new(BufReader::new(stream)),
            socket: socket.to_owned(),
            pid: std::process::id(),
        })
    }

    /// Whether this process opened the connection (not a forked child).
    pub(crate) fn owned_here(&self) -> bool {
        self.pid == std::process::id()
    }

    /// One request, its response (read its values with [`Reader::values`]) after a
    /// success code.
    fn call(&self, request: Writer) -> Result<Vec<u8>, Error> {
        let body = self.call_raw(request)?;
        Reader::new(&body).result()?;
        Ok(body)
    }

    /// One request, its whole response (code and values).
    fn call_raw(&self, request: Writer) -> Result<Vec<u8>, Error> {
        if !self.owned_here() {
            return Err(Error::InvalidHandle);
        }
        let mut stream = lock(&self.stream);
        round_trip(&mut stream, request)
    }
}

/// Sends a request and reads its response. A host that went away is [`Error::NoService`].
fn round_trip(stream: &mut BufReader<UnixStream>, request: Writer) -> Result<Vec<u8>, Error> {
    request
        .send(stream.get_mut())
        .map_err(|_| Error::NoService)?;
    read_frame(stream)
        .map_err(|_| Error::NoService)?
        .ok_or(Error::NoService)
}

impl Link {
    /// A new context id: from the registry's counter, or the host's.
    pub(crate) fn establish(&self, scope: crate::Scope) -> Result<u64, Error> {
        match self {
            Link::Local(_) => {
                use std::sync::atomic::{AtomicU64, Ordering};
                static NEXT: AtomicU64 = AtomicU64::new(1);
                Ok(NEXT.fetch_add(1, Ordering::Relaxed))
            }
            Link::Remote(r) => {
                let out = r.call(Writer::request(Op::Establish).u8(scope as u8))?;
                Reader::values(&out).u64()
            }
        }
    }

    /// Whether the context can still be used here.
    pub(crate) fn is_valid(&self) -> Result<(), Error> {
        match self {
            Link::Remote(r) if !r.owned_here() => Err(Error::InvalidHandle),
            _ => Ok(()),
        }
    }

    pub(crate) fn reader_list(&self) -> Result<Vec<CString>, Error> {
        match self {
            Link::Local(s) => Ok(lock(&s.hub)
                .readers
                .iter()
                .map(|r| r.name.clone())
                .collect()),
            Link::Remote(r) => {
                let out = r.call(Writer::request(Op::ListReaders))?;
                let mut rd = Reader::values(&out);
                (0..rd.u32()?)
                    .map(|_| CString::new(rd.bytes()?).map_err(|_| Error::InternalError))
                    .collect()
            }
        }
    }

    pub(crate) fn connect(
        &self,
        context: u64,
        reader: &CStr,
        share: ShareMode,
        protocols: Protocols,
    ) -> Result<(u64, Option<Protocol>), Error> {
        match self {
            Link::Local(s) => s.connect(context, reader, share, protocols),
            Link::Remote(r) => {
                let out = r.call(
                    Writer::request(Op::Connect)
                        .u64(context)
                        .bytes(reader.to_bytes())
                        .u8(share as u8)
                        .u64(protocols.bits()),
                )?;
                let mut rd = Reader::values(&out);
                Ok((rd.u64()?, protocol_from_u32(rd.u32()?)))
            }
        }
    }

    pub(crate) fn reconnect(
        &self,
        id: u64,
        share: ShareMode,
        protocols: Protocols,
        initialization: Disposition,
    ) -> Result<Option<Protocol>, Error> {
        match self {
            Link::Local(s) => s.reconnect(id, share, protocols, initialization),
            Link::Remote(r) => {
                let out = r.call(
                    Writer::request(Op::Reconnect)
                        .u64(id)
                        .u8(share as u8)
                        .u64(protocols.bits())
                        .u8(initialization as u8),
                )?;
                Ok(protocol_from_u32(Reader::values(&out).u32()?))
            }
        }
    }

    pub(crate) fn disconnect(&self, id: u64, disposition: Disposition) -> Result<(), Error> {
        match self {
            Link::Local(s) => s.disconnect(id, disposition),
            Link::Remote(r) => r
                .call(
                    Writer::request(Op::Disconnect)
                        .u64(id)
                        .u8(disposition as u8),
                )
                .map(drop),
        }
    }

    /// Closes a connection as releasing its context does.
    pub(crate) fn disconnect_released(&self, id: u64) -> Result<(), Error> {
        match self {
            Link::Local(s) => s.disconnect_released(id),
            Link::Remote(r) => r
                .call(Writer::request(Op::Disconnect).u64(id).u8(RELEASED))
                .map(drop),
        }
    }

    /// A released context: its handles go (the host does this when the connection closes).
    pub(crate) fn forget_context(&self, context: u64) {
        match self {
            Link::Local(s) => s.forget_context(context),
            Link::Remote(r) => {
                let _ = r.call(Writer::request(Op::Release).u64(context));
            }
        }
    }

    pub(crate) fn begin_transaction(&self, id: u64) -> Result<(), Error> {
        match self {
            Link::Local(s) => s.begin_transaction(id, None, &|| false),
            Link::Remote(r) => r.call(Writer::request(Op::Begin).u64(id)).map(drop),
        }
    }

    pub(crate) fn end_transaction(&self, id: u64, disposition: Disposition) -> Result<(), Error> {
        match self {
            Link::Local(s) => s.end_transaction(id, disposition),
            Link::Remote(r) => r
                .call(Writer::request(Op::End).u64(id).u8(disposition as u8))
                .map(drop),
        }
    }

    pub(crate) fn transmit(&self, id: u64, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            Link::Local(s) => s.transmit(id, apdu),
            Link::Remote(r) => {
                let out = r.call(Writer::request(Op::Transmit).u64(id).bytes(apdu))?;
                Ok(Reader::values(&out).bytes()?.to_vec())
            }
        }
    }

    pub(crate) fn status(&self, id: u64) -> Result<HandleStatus, Error> {
        match self {
            Link::Local(s) => s.status(id),
            Link::Remote(r) => {
                let out = r.call(Writer::request(Op::Status).u64(id))?;
                let mut rd = Reader::values(&out);
                Ok(HandleStatus {
                    reader: CString::new(rd.bytes()?).map_err(|_| Error::InternalError)?,
                    powered: rd.u8()? != 0,
                    atr: rd.bytes()?.to_vec(),
                })
            }
        }
    }

    /// `SCardCancel`. On a host it travels on a connection of its own: the context's own
    /// is busy with the call being cancelled.
    pub(crate) fn cancel(&self, context: u64) -> Result<(), Error> {
        match self {
            Link::Local(s) => {
                s.cancel(context);
                Ok(())
            }
            Link::Remote(r) => {
                if !r.owned_here() {
                    return Err(Error::InvalidHandle);
                }
                let stream = UnixStream::connect(&r.socket).map_err(|_| Error::NoService)?;
                let body = round_trip(
                    &mut BufReader::new(stream),
                    Writer::request(Op::Cancel).u64(context),
                )?;
                Reader::new(&body).result()
            }
        }
    }

    pub(crate) fn get_status_change(
        &self,
        context: u64,
        timeout: Option<Duration>,
        readers: &mut [ReaderState],
    ) -> Result<(), Error> {
        match self {
            Link::Local(s) => {
                crate::status_change::wait(s, context, timeout, readers, None, &|| false)
            }
            Link::Remote(r) => {
                let ms =
                    timeout.map_or(u64::MAX, |t| t.as_millis().min(u64::MAX as u128 - 1) as u64);
                let mut w = Writer::request(Op::StatusChange)
                    .u64(context)
                    .u64(ms)
                    .u32(readers.len() as u32);
                for rs in readers.iter() {
                    w = w.bytes(rs.name().to_bytes()).u64(rs.current_bits());
                }
                // The event states come back on a timeout too, as pcsc-lite writes them.
                let out = r.call_raw(w)?;
                let mut rd = Reader::new(&out);
                let result = rd.result();
                if !matches!(result, Ok(()) | Err(Error::Timeout)) {
                    return result;
                }
                for rs in readers.iter_mut() {
                    let event = rd.u64()?;
                    rs.set_event(event, rd.bytes()?);
                }
                result
            }
        }
    }
}
