//! [`Host`]: serves a [`Registry`]'s cards to other processes over a Unix socket, so that
//! every process sees ONE card per reader, as every client of pcscd does.
//!
//! `softcard exec` and `softcard serve` run a host; the libpcsclite drop-in in each of
//! their client processes, and [`Context::establish_on_host`](crate::Context::establish_on_host),
//! are its clients. The protocol is [`wire`](crate::wire): one connection per context,
//! one request and one response at a time; `SCardCancel` comes on a connection of its
//! own. When a client's connection closes (the process ended, or crashed), the host
//! releases its contexts: its connections are closed and its transactions end, so a dead
//! client never keeps the card locked.
//!
//! Calls that wait (`SCardBeginTransaction`, `SCardGetStatusChange`) wait in the host, on
//! the client's connection thread, and check every [`POLL`] whether the client is still
//! there.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{self, BufReader, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::registry::{Shared, lock};
use crate::wire::{Op, Reader, Writer, read_frame};
use crate::{Context, Disposition, Error, ReaderState, Registry, State};

/// The environment variable through which a host's clients find its socket
/// (`softcard exec` sets it for its command).
pub const HOST_VAR: &str = "SOFTCARD_HOST";
/// The socket's file name in a host's folder; `softcard exec` puts the drop-in library
/// beside it, where the library looks for it.
pub const SOCKET_FILE: &str = "softcard-host.sock";

/// How often a waiting call checks that its client is still connected.
pub const POLL: Duration = Duration::from_millis(200);

/// A host being set up: a registry and the socket it will be served on.
pub struct Host {
    listener: UnixListener,
    state: Arc<HostState>,
}

/// What the connection threads share.
struct HostState {
    registry: Registry,
    path: PathBuf,
    /// The image each reader's card came from (for `softcard ctl list`).
    images: Mutex<HashMap<String, PathBuf>>,
    /// The index of the next card served (its reader's number).
    next: AtomicUsize,
    /// The crypto backend of the cards the host loads.
    backend: softcard::crypto::BackendKind,
    /// The passphrase of the encrypted images the host loads.
    passphrase: Mutex<Option<softcard_file::sealed::Passphrase>>,
    clients: AtomicUsize,
    stop: AtomicBool,
}

/// Why an image cannot be added to a host.
#[derive(Debug)]
pub enum AddError {
    /// The host serves it already, in this reader.
    AlreadyServed(String),
    /// It cannot be locked or loaded.
    Load(softcard_file::LoadError),
}

impl std::fmt::Display for AddError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddError::AlreadyServed(reader) => {
                write!(f, "the same card image is served already, in {reader}")
            }
            AddError::Load(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AddError {}

impl HostState {
    fn add_image(&self, image: &Path) -> Result<String, AddError> {
        let load = |e| AddError::Load(softcard_file::LoadError::Lock(e));
        let io = |e| AddError::Load(softcard_file::LoadError::Io(e));
        let real = softcard_file::image_lock::resolve(image).map_err(io)?;
        // The images map is held until the card is in: two adds of one image cannot race.
        let mut images = lock(&self.images);
        if let Some((reader, _)) = images.iter().find(|(_, p)| **p == real) {
            return Err(AddError::AlreadyServed(reader.clone()));
        }
        let image_lock = softcard_file::image_lock::ImageLock::acquire(&real).map_err(load)?;
        image_lock.announce(Some(&self.path)).map_err(io)?;
        let passphrase = lock(&self.passphrase).clone();
        let card =
            softcard_file::FileStorage::load_locked(image_lock, self.backend, passphrase.as_ref())
                .map_err(AddError::Load)?;
        let taken = self.registry.readers();
        // The next number no reader has, whatever its kind.
        let reader = loop {
            let index = self.next.fetch_add(1, Ordering::SeqCst);
            let used = softcard::Profile::ALL
                .into_iter()
                .any(|p| taken.contains(&crate::served_reader_name(p, index)));
            if !used {
                break crate::served_reader_name(card.profile(), index);
            }
        };
        self.registry.insert_card(&reader, card).map_err(|e| {
            AddError::Load(softcard_file::LoadError::Io(io::Error::other(
                e.to_string(),
            )))
        })?;
        images.insert(reader.clone(), real);
        Ok(reader)
    }
}

/// A running host; dropping it stops accepting clients, removes the socket and waits for
/// the accept loop (connected clients are served until they disconnect).
pub struct HostHandle {
    state: Arc<HostState>,
    /// The listening socket, shut down to wake the accept loop.
    listener: Option<UnixListener>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("path", &self.state.path)
            .finish()
    }
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle")
            .field("path", &self.state.path)
            .field("clients", &self.clients())
            .finish()
    }
}

impl Host {
    /// Binds the socket at `path` (which must not exist) for `registry`'s cards; images it
    /// loads get their keys on `backend`.
    ///
    /// # Errors
    /// Those of binding the socket.
    pub fn bind(
        path: &Path,
        registry: Registry,
        backend: softcard::crypto::BackendKind,
    ) -> io::Result<Host> {
        let listener = UnixListener::bind(path)?;
        Ok(Host {
            listener,
            state: Arc::new(HostState {
                registry,
                path: path.to_owned(),
                images: Mutex::default(),
                next: AtomicUsize::new(0),
                backend,
                passphrase: Mutex::default(),
                clients: AtomicUsize::new(0),
                stop: AtomicBool::new(false),
            }),
        })
    }

    /// Serves the card image at `image` in a new reader, `softcard PIV 00 00`, `softcard
    /// GIDS 01 00`... in the order images are added (see
    /// [`served_reader_name`](crate::served_reader_name)): locks it (announcing this host's
    /// socket in the lock) and loads it. Returns the reader's name.
    ///
    /// # Errors
    /// [`AddError::AlreadyServed`] for an image this host serves already (also through a
    /// link), [`AddError::Load`] when it cannot be locked (another process holds it, it is
    /// read-only) or loaded.
    pub fn add_image(&self, image: &Path) -> Result<String, AddError> {
        self.state.add_image(image)
    }

    /// The passphrase that opens the encrypted images this host loads, from now on (by
    /// [`Host::add_image`] and by the control interface's inserts); `None` for images in
    /// clear. An image in clear is refused while a passphrase is set, and the other way
    /// round (see [`softcard_file::LoadError`]).
    pub fn set_passphrase(&self, passphrase: Option<softcard_file::sealed::Passphrase>) {
        *lock(&self.state.passphrase) = passphrase;
    }

    /// Starts accepting clients on a thread of its own.
    pub fn spawn(self) -> HostHandle {
        let state = Arc::clone(&self.state);
        let waker = self.listener.try_clone().ok();
        let listener = self.listener;
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&state);
                state.clients.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    serve_client(&state, stream);
                    state.clients.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        HostHandle {
            state: self.state,
            listener: waker,
            thread: Some(thread),
        }
    }
}

impl HostHandle {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.state.path
    }

    /// How many client connections are open now.
    pub fn clients(&self) -> usize {
        self.state.clients.load(Ordering::SeqCst)
    }

    /// The registry served.
    pub fn registry(&self) -> &Registry {
        &self.state.registry
    }
}

impl Drop for HostHandle {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Shutting the listening socket down wakes the accept loop (its accept fails), which
        // then sees the flag; connecting would do too, unless the socket's file is gone.
        match &self.listener {
            Some(l) => {
                let _ = rustix::net::shutdown(l, rustix::net::Shutdown::Both);
            }
            None => {
                let _ = UnixStream::connect(&self.state.path);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.state.path);
    }
}

/// Whether the client of a connection waiting in a call has gone (or broke the protocol
/// by sending while its call runs).
fn client_gone(stream: &UnixStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let gone =
        !matches!((&*stream).read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    gone || stream.set_nonblocking(false).is_err()
}

/// One client connection: its contexts live as long as it does.
fn serve_client(state: &HostState, stream: UnixStream) {
    let mut contexts: HashMap<u64, Context> = HashMap::new();
    // Requests are read through a buffer (a frame's length and body in one read); the
    // client sends nothing while its call runs, so nothing waits in it then.
    let mut requests = BufReader::new(&stream);
    while let Ok(Some(body)) = read_frame(&mut requests) {
        let response = handle(state, &mut contexts, &stream, &body)
            .unwrap_or_else(|e| Writer::response(Err(e)));
        if response.send(&mut &stream).is_err() {
            break;
        }
    }
    // Dropping the contexts closes their connections (and ends their transactions).
}

fn shared(state: &HostState) -> &Shared {
    &state.registry.shared
}

/// A handle of one of this connection's contexts.
fn own_handle(state: &HostState, contexts: &HashMap<u64, Context>, id: u64) -> Result<u64, Error> {
    let hub = lock(&shared(state).hub);
    match hub.handles.get(&id) {
        Some(h) if contexts.contains_key(&h.context) => Ok(id),
        _ => Err(Error::InvalidHandle),
    }
}

fn own_context(contexts: &HashMap<u64, Context>, id: u64) -> Result<u64, Error> {
    contexts
        .contains_key(&id)
        .then_some(id)
        .ok_or(Error::InvalidHandle)
}

fn cstring(bytes: &[u8]) -> Result<CString, Error> {
    CString::new(bytes).map_err(|_| Error::InvalidValue)
}

fn ok() -> Writer {
    Writer::response(Ok(()))
}

/// One request: the response, or the error to answer.
fn handle(
    state: &HostState,
    contexts: &mut HashMap<u64, Context>,
    stream: &UnixStream,
    body: &[u8],
) -> Result<Writer, Error> {
    let mut r = Reader::new(body);
    let op = Op::from_u8(r.u8()?).ok_or(Error::InvalidParameter)?;
    let sh = shared(state);
    match op {
        Op::Establish => {
            let ctx = state.registry.establish(r.scope()?)?;
            let id = ctx.inner.id;
            contexts.insert(id, ctx);
            Ok(ok().u64(id))
        }
        Op::Release => {
            let id = own_context(contexts, r.u64()?)?;
            contexts.remove(&id);
            Ok(ok())
        }
        Op::ListReaders => {
            let names = state.registry.readers();
            let mut w = ok().u32(names.len() as u32);
            for n in names {
                w = w.bytes(n.as_bytes());
            }
            Ok(w)
        }
        Op::Connect => {
            let ctx = own_context(contexts, r.u64()?)?;
            let reader = cstring(r.bytes()?)?;
            let (share, protocols) = (r.share()?, r.protocols()?);
            let (id, protocol) = sh.connect(ctx, &reader, share, protocols)?;
            Ok(ok().u64(id).u32(protocol.map_or(0, |p| p as u32)))
        }
        Op::Reconnect => {
            let id = own_handle(state, contexts, r.u64()?)?;
            let (share, protocols, init) = (r.share()?, r.protocols()?, r.disposition()?);
            let protocol = sh.reconnect(id, share, protocols, init)?;
            Ok(ok().u32(protocol.map_or(0, |p| p as u32)))
        }
        Op::Disconnect => {
            let id = own_handle(state, contexts, r.u64()?)?;
            match r.u8()? {
                crate::link::RELEASED => sh.disconnect_released(id)?,
                d => sh.disconnect(id, Disposition::try_from(crate::Dword::from(d))?)?,
            }
            Ok(ok())
        }
        Op::Begin => {
            let id = own_handle(state, contexts, r.u64()?)?;
            sh.begin_transaction(id, Some(POLL), &|| client_gone(stream))?;
            Ok(ok())
        }
        Op::End => {
            let id = own_handle(state, contexts, r.u64()?)?;
            sh.end_transaction(id, r.disposition()?)?;
            Ok(ok())
        }
        Op::Transmit => {
            let id = own_handle(state, contexts, r.u64()?)?;
            let response = sh.transmit(id, r.bytes()?)?;
            Ok(ok().bytes(&response))
        }
        Op::Status => {
            let id = own_handle(state, contexts, r.u64()?)?;
            let s = sh.status(id)?;
            Ok(ok()
                .bytes(s.reader.as_bytes())
                .u8(u8::from(s.powered))
                .bytes(&s.atr))
        }
        Op::StatusChange => status_change(state, contexts, &mut r, &|| client_gone(stream)),
        Op::Cancel => {
            // Any connection may cancel: the context's own is busy waiting.
            sh.cancel(r.u64()?);
            Ok(ok())
        }
        Op::CtlList => {
            let names = state.registry.readers();
            let images = lock(&state.images);
            let mut w = ok().u32(names.len() as u32);
            for n in names {
                let image = images.get(&n).map(|p| p.to_string_lossy().into_owned());
                let backend = state.registry.with_card(&n, |c| c.backend());
                let present = backend.is_ok();
                // A card out of its reader (parked) was loaded by this host.
                let backend = backend.unwrap_or(state.backend);
                w = w
                    .bytes(n.as_bytes())
                    .bytes(image.unwrap_or_default().as_bytes())
                    .u8(u8::from(present))
                    .bytes(backend.name().as_bytes());
            }
            Ok(w)
        }
        Op::CtlRemove => {
            state.registry.eject(&utf8(r.bytes()?)?)?;
            Ok(ok())
        }
        Op::CtlPowerCycle => {
            state.registry.power_cycle(&utf8(r.bytes()?)?)?;
            Ok(ok())
        }
        Op::CtlFault => {
            let text = utf8(r.bytes()?)?;
            Ok(match crate::fault::parse_plan(&text) {
                Ok(faults) => {
                    let n = faults.len() as u32;
                    state.registry.inject_all(faults);
                    ok().u8(0).u32(n)
                }
                Err(e) => ok().u8(1).bytes(e.to_string().as_bytes()),
            })
        }
        Op::CtlFaults => {
            let faults = state.registry.faults();
            let mut w = ok().u32(faults.len() as u32);
            for f in faults {
                w = w.bytes(f.to_string().as_bytes());
            }
            Ok(w)
        }
        Op::CtlClearFaults => {
            state.registry.clear_faults();
            Ok(ok())
        }
        Op::CtlAttach => {
            let image = PathBuf::from(utf8(r.bytes()?)?);
            Ok(match state.add_image(&image) {
                Ok(reader) => ok().u8(0).bytes(reader.as_bytes()),
                Err(e) => ok().u8(1).bytes(e.to_string().as_bytes()),
            })
        }
        Op::CtlDetach => {
            let reader = utf8(r.bytes()?)?;
            lock(&state.images).remove(&reader);
            // The card (and with it the image's lock) goes with its reader.
            drop(state.registry.remove_reader(&reader)?);
            Ok(ok())
        }
        Op::CtlInsert => {
            state.registry.reinsert(&utf8(r.bytes()?)?)?;
            Ok(ok())
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::InvalidValue)
}

/// `SCardGetStatusChange`: the event states come back on a timeout too.
fn status_change(
    state: &HostState,
    contexts: &HashMap<u64, Context>,
    r: &mut Reader<'_>,
    gone: &dyn Fn() -> bool,
) -> Result<Writer, Error> {
    let ctx = own_context(contexts, r.u64()?)?;
    let ms = r.u64()?;
    let n = r.u32()?;
    if n > 64 {
        return Err(Error::InvalidValue);
    }
    let mut readers = (0..n)
        .map(|_| {
            let name = cstring(r.bytes()?)?;
            Ok(ReaderState::new(name, State::from_bits_retain(r.u64()?)))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let timeout = (ms != u64::MAX).then(|| Duration::from_millis(ms));
    let result =
        crate::status_change::wait(shared(state), ctx, timeout, &mut readers, Some(POLL), gone);
    if !matches!(result, Ok(()) | Err(Error::Timeout)) {
        return Err(result.err().unwrap_or(Error::InternalError));
    }
    let mut w = Writer::response(result);
    for rs in &readers {
        w = w.u64(rs.event_bits()).bytes(rs.atr());
    }
    Ok(w)
}

/// What the control interface reports of a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's name.
    pub name: String,
    /// The image its card comes from, if the host said.
    pub image: Option<PathBuf>,
    /// Whether the card is in the reader.
    pub present: bool,
    /// The name of the crypto backend its card's keys run on
    /// ([`BackendKind::name`](softcard::crypto::BackendKind::name)).
    pub backend: String,
}

fn control(socket: &Path, request: Writer) -> Result<Vec<u8>, Error> {
    let mut stream = UnixStream::connect(socket).map_err(|_| Error::NoService)?;
    request.send(&mut stream).map_err(|_| Error::NoService)?;
    let body = read_frame(&mut stream)
        .map_err(|_| Error::NoService)?
        .ok_or(Error::NoService)?;
    Reader::new(&body).result()?;
    Ok(body)
}

/// The readers of the host on `socket` (the control interface).
///
/// # Errors
/// [`Error::NoService`] when no host answers.
pub fn list(socket: &Path) -> Result<Vec<ReaderInfo>, Error> {
    let out = control(socket, Writer::request(Op::CtlList))?;
    let mut r = Reader::values(&out);
    (0..r.u32()?)
        .map(|_| {
            let name = String::from_utf8_lossy(r.bytes()?).into_owned();
            let image = r.bytes()?;
            Ok(ReaderInfo {
                name,
                image: (!image.is_empty())
                    .then(|| PathBuf::from(String::from_utf8_lossy(image).into_owned())),
                present: r.u8()? != 0,
                backend: String::from_utf8_lossy(r.bytes()?).into_owned(),
            })
        })
        .collect()
}

/// Takes the card out of `reader` on the host on `socket`: every client sees the removal
/// (`SCARD_W_REMOVED_CARD`, status-change events). The host keeps the card, unpowered (its
/// verified PINs and other security state are gone, as with a real card).
///
/// # Errors
/// [`Error::NoService`], [`Error::UnknownReader`], [`Error::NoSmartcard`].
pub fn remove_card(socket: &Path, reader: &str) -> Result<(), Error> {
    control(
        socket,
        Writer::request(Op::CtlRemove).bytes(reader.as_bytes()),
    )
    .map(drop)
}

/// Has the host on `socket` serve the card image at `image` in a new reader; returns the
/// reader's name. The path is resolved here (the host may run in another folder).
///
/// # Errors
/// [`Error::NoService`]; the host's message when it cannot serve the image (served
/// already, held by another process, read-only, not a card image).
pub fn attach(socket: &Path, image: &Path) -> Result<Result<String, String>, Error> {
    let real = softcard_file::image_lock::resolve(image).map_err(|_| Error::InvalidValue)?;
    let out = control(
        socket,
        Writer::request(Op::CtlAttach).bytes(real.to_string_lossy().as_bytes()),
    )?;
    let mut r = Reader::values(&out);
    let failed = r.u8()? != 0;
    let text = String::from_utf8_lossy(r.bytes()?).into_owned();
    Ok(if failed { Err(text) } else { Ok(text) })
}

/// Takes `reader` away on the host on `socket`, with its card: the image is no longer
/// served (nor locked) by it.
///
/// # Errors
/// [`Error::NoService`], [`Error::UnknownReader`].
pub fn detach(socket: &Path, reader: &str) -> Result<(), Error> {
    control(
        socket,
        Writer::request(Op::CtlDetach).bytes(reader.as_bytes()),
    )
    .map(drop)
}

/// Puts back the card taken out of `reader` by [`remove_card`].
///
/// # Errors
/// [`Error::NoService`], [`Error::UnknownReader`] (no card taken out of it).
pub fn insert_card(socket: &Path, reader: &str) -> Result<(), Error> {
    control(
        socket,
        Writer::request(Op::CtlInsert).bytes(reader.as_bytes()),
    )
    .map(drop)
}

/// Power-cycles the card in `reader` on the host on `socket` (see
/// [`Registry::power_cycle`]): its connections get `SCARD_W_RESET_CARD`.
///
/// # Errors
/// [`Error::NoService`], [`Error::UnknownReader`], [`Error::NoSmartcard`].
pub fn power_cycle(socket: &Path, reader: &str) -> Result<(), Error> {
    control(
        socket,
        Writer::request(Op::CtlPowerCycle).bytes(reader.as_bytes()),
    )
    .map(drop)
}

/// Injects the faults written in `text` (the text format of [`crate::fault`], one or more
/// lines) in the host on `socket`; returns how many were injected, or the host's message
/// naming a line that does not parse.
///
/// # Errors
/// [`Error::NoService`].
pub fn inject(socket: &Path, text: &str) -> Result<Result<u32, String>, Error> {
    let out = control(socket, Writer::request(Op::CtlFault).bytes(text.as_bytes()))?;
    let mut r = Reader::values(&out);
    if r.u8()? != 0 {
        return Ok(Err(String::from_utf8_lossy(r.bytes()?).into_owned()));
    }
    Ok(Ok(r.u32()?))
}

/// The faults in force in the host on `socket`, each as its line.
///
/// # Errors
/// [`Error::NoService`].
pub fn faults(socket: &Path) -> Result<Vec<String>, Error> {
    let out = control(socket, Writer::request(Op::CtlFaults))?;
    let mut r = Reader::values(&out);
    (0..r.u32()?)
        .map(|_| Ok(String::from_utf8_lossy(r.bytes()?).into_owned()))
        .collect()
}

/// Removes every fault injected in the host on `socket`.
///
/// # Errors
/// [`Error::NoService`].
pub fn clear_faults(socket: &Path) -> Result<(), Error> {
    control(socket, Writer::request(Op::CtlClearFaults)).map(drop)
}
