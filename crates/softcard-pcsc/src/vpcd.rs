//! The card side of vsmartcard's vpcd protocol: puts a [`softcard::Card`] in a reader of
//! the real pcscd daemon (driver `libifdvpcd`).
//!
//! vpcd listens (port 35963 for reader "Virtual PCD 00 00", 35964 for "... 00 01"); the
//! card connects to it. Every message, both ways, is a big-endian `u16` length and that
//! many bytes. From vpcd, a one-byte message is a control code ([`CTRL_OFF`],
//! [`CTRL_ON`], [`CTRL_RESET`]: no reply; [`CTRL_ATR`]: the reply is the ATR); a longer one
//! is a command APDU whose reply is the response APDU. Closing the connection removes the
//! card.
//!
//! vpcd writes each message in two `send` calls; with Nagle on its side every message
//! would wait for our delayed ACK (about 40 ms). The bridge sets `TCP_NODELAY` and re-arms
//! `TCP_QUICKACK` before every receive, so an APDU takes a fraction of a millisecond.
//!
//! [`Bridge::run`] reconnects with a growing back-off when pcscd goes away, drops a
//! connection that sends a malformed frame (the card's state is untouched: only whole
//! commands reach it) and returns when its stop flag is raised. When a connection ends,
//! however it ends, a card it powered is powered off: a card that leaves the reader loses
//! its security state (the PIN's verification) before it comes back. The card saves every
//! state change to its storage before answering, so stopping needs no final write.
//!
//! A response has at most 65,533 data bytes (a frame's 65,535 less the status word), and
//! vpcd advertises extended APDUs: a command asking for more (extended Le `FFFE`, `FFFF`
//! or `0000` = 65,536) has its Le lowered to 65,533 before the card sees it. A card with
//! more to say then answers the first 65,533 bytes with `61xx` and keeps the rest for GET
//! RESPONSE, as real cards do for any Le shorter than their answer, and the connection
//! stays (pcscd takes a dropped connection for a removed card). A card that answers past
//! Ne anyway, which `softcard::Card` never does, gets `6700` in its place, the connection
//! kept.
//!
//! A reply vpcd does not read (a wedged pcscd) does not hold the bridge: the socket has a
//! write timeout of [`Options::poll`], so a stop is honoured while writing, and a
//! connection on which vpcd takes nothing for [`Options::write_stall`] is dropped.
//!
//! The framing itself (length prefix, control codes, limits) is a pure codec of its own;
//! the bridge reads, decodes, drives the card and writes.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod codec;

use codec::Message;
pub use codec::{CTRL_ATR, CTRL_OFF, CTRL_ON, CTRL_RESET, FrameError};

/// How long a card the bridge took away (removed, power-cycled, failing a command) stays
/// away at least: pcscd polls for the card about every 400 ms, so it sees the reader empty
/// before the card comes back.
pub const REMOVAL: Duration = Duration::from_secs(1);

/// vpcd's default port (reader "Virtual PCD 00 00"; the next port is "... 00 01").
pub const DEFAULT_PORT: u16 = 35963;

/// How the bridge behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// First wait before reconnecting.
    pub backoff_min: Duration,
    /// Longest wait between connection attempts.
    pub backoff_max: Duration,
    /// How often a blocked receive checks the stop flag.
    pub poll: Duration,
    /// Longest frame accepted; a longer one drops the connection.
    pub max_frame: usize,
    /// How long vpcd may leave a reply unread (not one byte taken) before the bridge drops
    /// the connection: a wedged pcscd must not hold the card forever. A stop is honoured
    /// within [`Options::poll`] meanwhile.
    pub write_stall: Duration,
    /// How long a new connection may stay silent before the bridge connects again. pcscd
    /// asks vpcd for the ATR about every 400 ms, so a connection that hears nothing was
    /// left in the listen backlog by a vpcd still holding the previous card's socket.
    pub first_frame_timeout: Duration,
    /// Log connections and dropped frames on stderr.
    pub log: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            poll: Duration::from_millis(200),
            max_frame: codec::MAX_FRAME,
            write_stall: Duration::from_secs(5),
            first_frame_timeout: Duration::from_secs(5),
            log: true,
        }
    }
}

/// How one connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// vpcd closed the connection (pcscd stopped).
    Closed,
    /// The stop flag was raised.
    Stopped,
    /// No frame came within [`Options::first_frame_timeout`] of connecting.
    Unanswered,
    /// The card left its reader ([`BridgedCard::present`]), was power-cycled
    /// ([`BridgedCard::power_cycles`]) or failed a command: the bridge closed the
    /// connection, and stays away for [`REMOVAL`] at least.
    Removed,
}

/// Counters, for tests and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections made.
    pub connections: u64,
    /// Command APDUs answered.
    pub apdus: u64,
    /// Connections dropped for a malformed frame or socket error.
    pub dropped: u64,
}

/// What a [`Bridge`] drives: a card it owns, or the card in a [`Registry`](crate::Registry)
/// reader that a [`Host`](crate::host::Host) also serves ([`RegistryCard`]).
pub trait BridgedCard: Send {
    /// Powers the card on (vpcd's control byte 0x01).
    fn power_on(&mut self);
    /// Powers the card off (0x00).
    fn power_off(&mut self);
    /// Resets the card (0x02).
    fn reset(&mut self);
    /// The ATR (0x04); empty when there is no card.
    fn atr(&self) -> Vec<u8>;
    /// One command APDU, its response. An error (the card left, or an injected failed
    /// transmission) closes the connection: pcscd's client gets no status word, and the
    /// reader is empty for [`REMOVAL`] before the card comes back (or until the card is
    /// back in its reader).
    ///
    /// # Errors
    /// The reason the command got no answer.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, crate::Error>;
    /// Whether the card is in its reader: while it is not, the bridge stays disconnected
    /// (pcscd sees an empty reader).
    fn present(&self) -> bool {
        true
    }
    /// A number that changes each time the card is power-cycled on the card's side
    /// ([`Registry::power_cycle`](crate::Registry::power_cycle)): the bridge then drops the
    /// connection and connects again, which pcscd sees as a removal and an insertion.
    fn power_cycles(&self) -> u64 {
        0
    }
}

impl BridgedCard for softcard::Card {
    fn power_on(&mut self) {
        softcard::Card::power_on(self);
    }
    fn power_off(&mut self) {
        softcard::Card::power_off(self);
    }
    fn reset(&mut self) {
        softcard::Card::reset(self);
    }
    fn atr(&self) -> Vec<u8> {
        softcard::Card::atr(self).to_vec()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, crate::Error> {
        Ok(softcard::Card::transmit(self, apdu))
    }
}

/// The card in a registry's reader, as a bridge drives it: pcscd's clients and the
/// registry's own clients (a host's) share it. A command from pcscd waits while a
/// registry client holds the card's transaction; a reset or power-off from pcscd is seen
/// by the registry's clients (`SCARD_W_RESET_CARD`).
#[derive(Clone, Debug)]
pub struct RegistryCard {
    registry: crate::Registry,
    reader: String,
}

impl RegistryCard {
    /// The card in `registry`'s reader `reader`.
    pub fn new(registry: crate::Registry, reader: impl Into<String>) -> Self {
        RegistryCard {
            registry,
            reader: reader.into(),
        }
    }
}

/// SW 6700 (wrong length): the answer to a command whose response, past its Ne, does not
/// fit a frame.
const WRONG_LENGTH: [u8; 2] = [0x67, 0x00];

impl BridgedCard for RegistryCard {
    fn power_on(&mut self) {
        let _ = self.registry.power_on(&self.reader);
    }
    fn power_off(&mut self) {
        let _ = self
            .registry
            .dispose(&self.reader, crate::Disposition::UnpowerCard);
    }
    fn reset(&mut self) {
        let _ = self
            .registry
            .dispose(&self.reader, crate::Disposition::ResetCard);
    }
    fn atr(&self) -> Vec<u8> {
        self.registry
            .with_card(&self.reader, |c| c.atr().to_vec())
            .unwrap_or_default()
    }
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, crate::Error> {
        self.registry
            .transmit_between_transactions(&self.reader, apdu)
    }
    fn present(&self) -> bool {
        self.registry.has_card(&self.reader)
    }
    fn power_cycles(&self) -> u64 {
        self.registry.power_cycles(&self.reader)
    }
}

/// A card connected (or connecting) to vpcd.
pub struct Bridge<C: BridgedCard = softcard::Card> {
    card: C,
    addr: String,
    options: Options,
    stop: Arc<AtomicBool>,
    stats: Stats,
}

impl<C: BridgedCard> std::fmt::Debug for Bridge<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("addr", &self.addr)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

enum Read2 {
    Done,
    Eof,
    Stopped,
    /// Nothing arrived before the deadline.
    Silent,
}

impl<C: BridgedCard> Bridge<C> {
    /// A bridge that will connect `card` to vpcd at `addr` (e.g. `127.0.0.1:35963`).
    pub fn new(card: C, addr: impl Into<String>) -> Self {
        Bridge {
            card,
            addr: addr.into(),
            options: Options::default(),
            stop: Arc::default(),
            stats: Stats::default(),
        }
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Uses `stop` as the stop flag (e.g. one raised by SIGINT/SIGTERM handlers).
    pub fn with_stop_flag(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    /// The stop flag: raising it makes [`Bridge::run`] return within [`Options::poll`].
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The card.
    pub fn card(&self) -> &C {
        &self.card
    }

    /// Takes the card back.
    pub fn into_card(self) -> C {
        self.card
    }

    fn log(&self, msg: std::fmt::Arguments<'_>) {
        if self.options.log {
            eprintln!("softcard: vpcd {}: {msg}", self.addr);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`, waking early when stopped. Returns whether stopped.
    fn pause(&self, d: Duration) -> bool {
        let step = Duration::from_millis(20);
        let mut left = d;
        while !left.is_zero() {
            if self.stopped() {
                return true;
            }
            let s = left.min(step);
            std::thread::sleep(s);
            left -= s;
        }
        self.stopped()
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(ErrorKind::NotFound, "address resolves to nothing");
        for a in self.addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Connects, serves, and reconnects with back-off until the stop flag is raised.
    ///
    /// # Errors
    /// Only an unresolvable address; connection failures are retried.
    pub fn run(&mut self) -> io::Result<()> {
        let mut backoff = self.options.backoff_min;
        let mut waiting_logged = false;
        while !self.stopped() {
            if !self.card.present() {
                // pcscd sees an empty reader until the card is back.
                if self.pause(self.options.poll) {
                    break;
                }
                continue;
            }
            let stream = match self.connect() {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::InvalidInput => return Err(e),
                Err(e) => {
                    if !waiting_logged {
                        self.log(format_args!("not reachable ({e}); retrying"));
                        waiting_logged = true;
                    }
                    if self.pause(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(self.options.backoff_max);
                    continue;
                }
            };
            waiting_logged = false;
            backoff = self.options.backoff_min;
            self.log(format_args!("connected: card inserted"));
            match self.serve(stream) {
                Ok(SessionEnd::Stopped) => break,
                Ok(SessionEnd::Closed) => self.log(format_args!("closed by vpcd; reconnecting")),
                Ok(SessionEnd::Removed) => {
                    self.log(format_args!(
                        "card removed or power-cycled: connection closed"
                    ));
                }
                Ok(SessionEnd::Unanswered) => self.log(format_args!(
                    "vpcd sent nothing within {:?}; reconnecting",
                    self.options.first_frame_timeout
                )),
                Err(e) => {
                    self.stats.dropped += 1;
                    self.log(format_args!("dropping the connection: {e}"));
                }
            }
            if self.pause(backoff) {
                break;
            }
        }
        self.log(format_args!("stopped"));
        Ok(())
    }

    /// Serves one connection until vpcd closes it or the stop flag is raised.
    ///
    /// However the connection ends (closed, dropped, stopped), a card this connection powered
    /// (a power-on, a reset or a command) and did not power off is powered off: the card left
    /// the reader, and with it the PIN's verification and every other volatile state. pcscd
    /// need not notice the removal before the card is back, so the next connection must not
    /// find the previous one's security state.
    ///
    /// # Errors
    /// A [`FrameError`] for a malformed frame (the card has not seen it), a socket error, or
    /// a reply vpcd left unread for [`Options::write_stall`].
    pub fn serve(&mut self, stream: TcpStream) -> Result<SessionEnd, FrameError> {
        let mut powered = false;
        let end = self.session(stream, &mut powered);
        if powered {
            self.card.power_off();
            self.log(format_args!("connection ended: card powered off"));
        }
        end
    }

    /// [`Bridge::serve`] but for the final power-off; `powered` tells whether the card is
    /// left powered by this connection.
    fn session(
        &mut self,
        mut stream: TcpStream,
        powered: &mut bool,
    ) -> Result<SessionEnd, FrameError> {
        self.stats.connections += 1;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.options.poll))?;
        stream.set_write_timeout(Some(self.options.poll))?;
        let mut header = [0u8; codec::HEADER_LEN];
        let mut body = Vec::new();
        let mut out = Vec::new();
        // Only the first frame has a deadline: afterwards vpcd may be quiet for as long as
        // it likes.
        let mut deadline = Instant::now().checked_add(self.options.first_frame_timeout);
        let cycles = self.card.power_cycles();
        loop {
            match self.read_full(&mut stream, &mut header, true, deadline)? {
                Read2::Done => deadline = None,
                Read2::Eof => return Ok(SessionEnd::Closed),
                Read2::Stopped => return Ok(SessionEnd::Stopped),
                Read2::Silent => return Ok(SessionEnd::Unanswered),
            }
            let len = codec::body_len(header, self.options.max_frame)?;
            body.resize(len, 0);
            match self.read_full(&mut stream, &mut body, false, None)? {
                Read2::Done => {}
                Read2::Eof | Read2::Silent => return Err(FrameError::Truncated),
                Read2::Stopped => return Ok(SessionEnd::Stopped),
            }
            // A card that left (or was power-cycled) closes the connection at pcscd's next
            // message: its presence poll comes every 400 ms or so.
            if !self.card.present() || self.card.power_cycles() != cycles {
                return Ok(SessionEnd::Removed);
            }
            // The response must fit a frame: the card chains what does not (61xx).
            codec::cap_le(&mut body);
            let reply = match codec::decode(&body)? {
                Message::PowerOff => {
                    self.card.power_off();
                    *powered = false;
                    None
                }
                Message::PowerOn => {
                    self.card.power_on();
                    *powered = true;
                    None
                }
                Message::Reset => {
                    self.card.reset();
                    *powered = true;
                    None
                }
                Message::Atr => Some(self.card.atr()),
                Message::Apdu(apdu) => {
                    self.stats.apdus += 1;
                    *powered = true;
                    match self.card.transmit(apdu) {
                        Ok(response) => Some(response),
                        Err(e) => {
                            self.log(format_args!("a command failed ({}): no answer", e.name()));
                            return Ok(SessionEnd::Removed);
                        }
                    }
                }
            };
            if let Some(mut reply) = reply {
                if reply.len() > codec::MAX_FRAME {
                    // Only a card that answers past Ne gets here; the connection stays.
                    self.log(format_args!(
                        "{}-byte response does not fit a frame; answered 6700",
                        reply.len()
                    ));
                    reply = WRONG_LENGTH.to_vec();
                }
                codec::encode(&reply, &mut out)?;
                if self.write_full(&mut stream, &out)? {
                    return Ok(SessionEnd::Stopped);
                }
            }
        }
    }

    /// Writes all of `buf`, checking the stop flag whenever vpcd takes nothing for
    /// [`Options::poll`]; `true` when stopped. [`FrameError::Stalled`] when vpcd took
    /// nothing for [`Options::write_stall`].
    fn write_full(&self, stream: &mut TcpStream, buf: &[u8]) -> Result<bool, FrameError> {
        let mut sent = 0;
        let mut progress = Instant::now();
        while sent < buf.len() {
            match stream.write(buf.get(sent..).unwrap_or_default()) {
                Ok(0) => return Err(FrameError::Io(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    sent += n;
                    progress = Instant::now();
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.stopped() {
                        return Ok(true);
                    }
                    if progress.elapsed() >= self.options.write_stall {
                        return Err(FrameError::Stalled(self.options.write_stall));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        Ok(false)
    }

    /// Fills `buf`, re-arming TCP_QUICKACK before each receive and checking the stop flag
    /// while idle. `Eof` only when closed before the first byte of a frame (`boundary`);
    /// `Silent` when `deadline` passes before the first byte.
    fn read_full(
        &self,
        stream: &mut TcpStream,
        buf: &mut [u8],
        boundary: bool,
        deadline: Option<Instant>,
    ) -> Result<Read2, FrameError> {
        let mut got = 0;
        while got < buf.len() {
            quickack(stream);
            let dst = buf.get_mut(got..).unwrap_or_default();
            match stream.read(dst) {
                Ok(0) if got == 0 && boundary => return Ok(Read2::Eof),
                Ok(0) => return Err(FrameError::Truncated),
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.stopped() {
                        return Ok(Read2::Stopped);
                    }
                    if got == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(Read2::Silent);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset && got == 0 && boundary => {
                    return Ok(Read2::Eof);
                }
                Err(e) => return Err(FrameError::Io(e)),
            }
        }
        Ok(Read2::Done)
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) {
    // Best effort: without it only latency suffers.
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) {}
