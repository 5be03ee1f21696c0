//! APDU traces: every exchange with the cards of a [`Registry`](crate::Registry)
//! recorded to a line-oriented text file, and a recorded trace replayed as a scripted card.
//!
//! The recording point is the registry: the in-process API ([`Context`](crate::Context),
//! [`Card`](crate::Card)), the [`host`](crate::host) serving `softcard exec` and `serve`
//! clients, and the [`vpcd`](crate::vpcd) bridge over a registry all pass through it.
//! Secrets (PINs, PUKs, key material, management-key authentication) are redacted unless
//! [`Secrets::Clear`] is asked for; the rules are in `redact.rs` and the format in
//! `docs/traces.md`.
//!
//! ```
//! use std::sync::Arc;
//! use softcard::{Card, CardOptions, NoStorage, Profile};
//! use softcard_pcsc::trace::{Recorder, Secrets, Tap, Trace};
//! use softcard_pcsc::{Protocols, Registry, Scope, ShareMode, MAX_BUFFER_SIZE};
//!
//! let registry = Registry::new();
//! let card = Card::create_seeded(&CardOptions::new(Profile::Piv), 1, Box::new(NoStorage)).unwrap();
//! registry.insert_card("Doc Reader", card).unwrap();
//! let log = Arc::new(std::sync::Mutex::new(Vec::new()));
//! let recorder = Arc::new(Recorder::new(SharedBuf(log.clone()), Secrets::Redacted).unwrap());
//! registry.set_tap(Some(Tap::Record(recorder)));
//!
//! let ctx = registry.establish(Scope::User).unwrap();
//! let card = ctx.connect(c"Doc Reader", ShareMode::Shared, Protocols::ANY).unwrap();
//! let mut buf = [0; MAX_BUFFER_SIZE];
//! let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8'];
//! card.transmit(&verify, &mut buf).unwrap();
//!
//! let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
//! let trace = Trace::parse(&text).unwrap();
//! assert_eq!(trace.exchanges[0].command.to_string(), "00200080 08 <redacted 8 bytes>");
//! assert!(!text.contains("3132333435363738"));
//!
//! # struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);
//! # impl std::io::Write for SharedBuf {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! ```

mod format;
pub mod names;
pub(crate) mod redact;
mod replay;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use format::{
    Apdu, Event, EventKind, Exchange, MAGIC, ParseError, Piece, ReaderLine, Secrets, Timestamp,
    Trace, VERSION,
};
pub use replay::{Deviation, Replay};

use crate::registry::lock;

/// What a registry does with the exchanges of its cards.
#[derive(Clone, Debug)]
pub enum Tap {
    /// Records them to a trace.
    Record(Arc<Recorder>),
    /// Answers them from a recorded trace instead of the cards.
    Replay(Arc<Replay>),
}

impl Tap {
    /// Passes `command` to the card in `reader` through this tap: recorded, or answered
    /// from the script.
    pub(crate) fn exchange(
        &self,
        reader: &str,
        card: &mut softcard::Card,
        command: &[u8],
    ) -> Vec<u8> {
        match self {
            Tap::Record(r) => {
                let at = SystemTime::now();
                let response = card.transmit(command);
                r.record(reader, card.profile(), at, command, &response);
                response
            }
            Tap::Replay(r) => r.answer(reader, command),
        }
    }
}

/// Writes a trace: one line per exchange, to a file or any writer.
pub struct Recorder {
    secrets: Secrets,
    state: Mutex<RecorderState>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

struct RecorderState {
    out: Box<dyn Write + Send>,
    /// Reader names by index, and what redaction knows of each.
    readers: HashMap<String, (usize, redact::ReaderState)>,
    exchanges: u64,
    /// Lines numbered so far: exchanges and events.
    numbered: u64,
    /// The first write that failed.
    error: Option<String>,
}

impl Recorder {
    /// A recorder writing to `out` (the header is written at once; each exchange is one
    /// `write_all` of its line, so a process that exits loses none).
    ///
    /// # Errors
    /// Writing the header failed.
    pub fn new(mut out: impl Write + Send + 'static, secrets: Secrets) -> io::Result<Recorder> {
        out.write_all(format!("{}\n", format::header(secrets)).as_bytes())?;
        Ok(Recorder {
            secrets,
            state: Mutex::new(RecorderState {
                out: Box::new(out),
                readers: HashMap::new(),
                exchanges: 0,
                numbered: 0,
                error: None,
            }),
        })
    }

    /// A recorder writing to a new file at `path` (replaced if it exists; readable by its
    /// owner only when secrets are in clear).
    ///
    /// # Errors
    /// The file cannot be created or written.
    pub fn create(path: &Path, secrets: Secrets) -> io::Result<Recorder> {
        use std::os::unix::fs::OpenOptionsExt;
        let mode = match secrets {
            Secrets::Clear => 0o600,
            Secrets::Redacted => 0o644,
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        if secrets == Secrets::Clear {
            // A file that existed keeps its mode through `open`.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Recorder::new(file, secrets)
    }

    /// Whether secrets are recorded in clear.
    pub fn secrets(&self) -> Secrets {
        self.secrets
    }

    /// How many exchanges were recorded.
    pub fn exchanges(&self) -> u64 {
        lock(&self.state).exchanges
    }

    /// The first write that failed, if one did (the trace is then incomplete).
    pub fn error(&self) -> Option<String> {
        lock(&self.state).error.clone()
    }

    /// Writes the lines of one record: the reader's line first if it is new; `line` makes
    /// the record's line from the reader's index and redaction state and its number.
    fn write(
        &self,
        reader: &str,
        profile: softcard::Profile,
        line: impl FnOnce(&mut redact::ReaderState, usize, u64) -> String,
    ) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let mut text = String::new();
        let next = st.readers.len();
        let (index, rs) = st.readers.entry(reader.to_string()).or_insert_with(|| {
            let line = ReaderLine {
                index: next,
                profile,
                name: reader.to_string(),
            };
            text.push_str(&format!("{line}\n"));
            (next, redact::ReaderState::new(Some(profile)))
        });
        st.numbered += 1;
        text.push_str(&line(rs, *index, st.numbered));
        text.push('\n');
        if st.error.is_none() {
            if let Err(e) = st
                .out
                .write_all(text.as_bytes())
                .and_then(|()| st.out.flush())
            {
                st.error = Some(e.to_string());
            }
        }
    }

    fn record(
        &self,
        reader: &str,
        profile: softcard::Profile,
        at: SystemTime,
        command: &[u8],
        response: &[u8],
    ) {
        let clear = self.secrets == Secrets::Clear;
        self.write(reader, profile, |rs, index, number| {
            let (command, response) = redact::fields(rs, command, response, clear);
            Exchange {
                number,
                time: Timestamp::of(at),
                reader: index,
                command,
                response,
            }
            .to_string()
        });
        lock(&self.state).exchanges += 1;
    }

    /// Records an event of the card in `reader`.
    pub(crate) fn event(&self, reader: &str, profile: softcard::Profile, kind: EventKind) {
        let at = SystemTime::now();
        self.write(reader, profile, |_, index, number| {
            Event {
                number,
                time: Timestamp::of(at),
                reader: index,
                kind,
            }
            .to_string()
        });
    }

    /// Records a command that an injected fault kept from the card in `reader`.
    pub(crate) fn fault(
        &self,
        reader: &str,
        profile: softcard::Profile,
        command: &[u8],
        injected: Injected,
    ) {
        let at = SystemTime::now();
        let clear = self.secrets == Secrets::Clear;
        self.write(reader, profile, |rs, index, number| {
            // The redaction state is not advanced: the card saw nothing.
            let mut scratch = *rs;
            let sw = match injected {
                Injected::Answered(sw) => sw,
                Injected::Failed(_) => 0x6F00,
            };
            let (command, _) = redact::fields(&mut scratch, command, &sw.to_be_bytes(), clear);
            let kind = match injected {
                Injected::Answered(sw) => EventKind::Answered { sw, command },
                Injected::Failed(error) => EventKind::Failed { error, command },
            };
            Event {
                number,
                time: Timestamp::of(at),
                reader: index,
                kind,
            }
            .to_string()
        });
    }
}

/// What an injected fault did to a command.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Injected {
    /// The transmission failed with this error.
    Failed(crate::Error),
    /// The command was answered with this status word.
    Answered(u16),
}
