//! The trace file: its lines written and read back (the format is described in
//! `docs/traces.md`).
//!
//! ```text
//! softcard-trace 2 secrets=redacted
//! reader 0 piv softcard PIV 00 00
//! 1 1765000000.123456 0 00a40400 09 a00000030800001000 00 -> 61 11 ... 9000
//! 2 1765000000.130021 0 00200080 08 <redacted 8 bytes> -> 9000
//! ```

use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first word of a trace file, and the format version after it.
pub const MAGIC: &str = "softcard-trace";
/// The format version this crate writes; it reads this one and version 1 (which has no
/// event lines).
pub const VERSION: u32 = 2;

/// Whether a trace holds secrets in clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Secrets {
    /// PINs, PUKs, key material and management-key authentication data are replaced by
    /// `<redacted N bytes>` (the default).
    #[default]
    Redacted,
    /// Everything is written as it was exchanged (`--trace-secrets`).
    Clear,
}

impl Secrets {
    fn word(self) -> &'static str {
        match self {
            Secrets::Redacted => "redacted",
            Secrets::Clear => "clear",
        }
    }
}

/// A run of bytes in a recorded APDU: known bytes, or a redacted stretch of known length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes as exchanged.
    Bytes(Vec<u8>),
    /// So many bytes left out.
    Redacted(usize),
}

/// A recorded APDU (command, or response with its status word last): its fields as the
/// file groups them, each known or redacted.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Apdu {
    fields: Vec<Piece>,
}

impl Apdu {
    /// An APDU whose fields are all known.
    pub fn known(fields: impl IntoIterator<Item = Vec<u8>>) -> Apdu {
        Apdu {
            fields: fields
                .into_iter()
                .filter(|f| !f.is_empty())
                .map(Piece::Bytes)
                .collect(),
        }
    }

    /// Builds an APDU from its fields.
    pub fn from_fields(fields: Vec<Piece>) -> Apdu {
        Apdu { fields }
    }

    /// The fields.
    pub fn fields(&self) -> &[Piece] {
        &self.fields
    }

    /// Its length in bytes, redacted stretches included.
    pub fn len(&self) -> usize {
        self.fields
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Redacted(n) => *n,
            })
            .sum()
    }

    /// Whether it has no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a part was redacted.
    pub fn is_redacted(&self) -> bool {
        self.fields.iter().any(|p| matches!(p, Piece::Redacted(_)))
    }

    /// The bytes, if none was redacted.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        for p in &self.fields {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Redacted(_) => return None,
            }
        }
        Some(out)
    }

    /// The known bytes from the start up to the first redacted stretch.
    pub fn known_prefix(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.fields {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Redacted(_) => break,
            }
        }
        out
    }

    /// Whether `bytes` could be this APDU: same length, and equal wherever this one is
    /// known (a redacted stretch matches any bytes).
    pub fn matches(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len() {
            return false;
        }
        let mut rest = bytes;
        for p in &self.fields {
            let n = match p {
                Piece::Bytes(b) => b.len(),
                Piece::Redacted(n) => *n,
            };
            let Some((here, after)) = rest.split_at_checked(n) else {
                return false;
            };
            if matches!(p, Piece::Bytes(b) if b != here) {
                return false;
            }
            rest = after;
        }
        true
    }

    /// The status word of a response: its last two bytes, when known.
    pub fn status_word(&self) -> Option<u16> {
        match self.fields.last()? {
            Piece::Bytes(b) => match b.as_slice() {
                [.., sw1, sw2] => Some(u16::from_be_bytes([*sw1, *sw2])),
                _ => None,
            },
            Piece::Redacted(_) => None,
        }
    }
}

impl fmt::Display for Apdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            match p {
                Piece::Bytes(b) => {
                    for byte in b {
                        write!(f, "{byte:02x}")?;
                    }
                }
                Piece::Redacted(n) => write!(f, "<redacted {n} bytes>")?,
            }
        }
        Ok(())
    }
}

/// A time of day: microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The time `t`.
    pub fn of(t: SystemTime) -> Timestamp {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Timestamp(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// One exchange: the command that reached a card and its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// Its number in the trace, from 1.
    pub number: u64,
    /// When the command reached the card.
    pub time: Timestamp,
    /// The reader's index (a `reader` line of the trace).
    pub reader: usize,
    /// The command.
    pub command: Apdu,
    /// The response, status word last.
    pub response: Apdu,
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} -> {}",
            self.number, self.time, self.reader, self.command, self.response
        )
    }
}

/// Something that happened to a reader's card other than an exchange: a power event, a
/// removal or insertion, or a command that an injected fault kept from the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its number in the trace (exchanges and events are numbered in one sequence).
    pub number: u64,
    /// When it happened.
    pub time: Timestamp,
    /// The reader's index (a `reader` line of the trace).
    pub reader: usize,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The card was powered on (`power-on`).
    PowerOn,
    /// The card was powered off (`power-off`).
    PowerOff,
    /// The card was reset (`reset`).
    Reset,
    /// The card was taken out of the reader (`removed`).
    Removed,
    /// A card was put in the reader (`inserted`).
    Inserted,
    /// An injected fault failed the transmission of `command` with `error` (`fault
    /// error=SCARD_... COMMAND`).
    Failed {
        /// The error the client got.
        error: crate::Error,
        /// The command, redacted as exchanges are.
        command: Apdu,
    },
    /// An injected fault answered `command` with `sw` (`fault sw=XXXX COMMAND`).
    Answered {
        /// The status word the client got.
        sw: u16,
        /// The command, redacted as exchanges are.
        command: Apdu,
    },
}

impl EventKind {
    /// The words of the event lines that are not faults.
    const WORDS: [(&'static str, EventKind); 5] = [
        ("power-on", EventKind::PowerOn),
        ("power-off", EventKind::PowerOff),
        ("reset", EventKind::Reset),
        ("removed", EventKind::Removed),
        ("inserted", EventKind::Inserted),
    ];
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKind::Failed { error, command } => {
                write!(f, "fault error={} {command}", error.name())
            }
            EventKind::Answered { sw, command } => write!(f, "fault sw={sw:04x} {command}"),
            other => {
                let word = EventKind::WORDS
                    .iter()
                    .find(|(_, k)| k == other)
                    .map_or("?", |(w, _)| w);
                f.write_str(word)
            }
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.number, self.time, self.reader, self.kind
        )
    }
}

/// A reader a trace names: its index, the profile of its card and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderLine {
    /// The index exchanges refer to.
    pub index: usize,
    /// The profile of the card in it.
    pub profile: softcard::Profile,
    /// The reader's name.
    pub name: String,
}

impl fmt::Display for ReaderLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reader {} {} {}", self.index, self.profile, self.name)
    }
}

/// The header line.
pub(crate) fn header(secrets: Secrets) -> String {
    format!("{MAGIC} {VERSION} secrets={}", secrets.word())
}

/// A trace read from its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// Whether secrets were recorded in clear.
    pub secrets: Secrets,
    /// The readers, in the order of their first exchange.
    pub readers: Vec<ReaderLine>,
    /// The exchanges, in order.
    pub exchanges: Vec<Exchange>,
    /// The events (power, removal, insertion, injected faults), in order.
    pub events: Vec<Event>,
}

/// Why a trace could not be read: the line number (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Trace {
    /// Reads a trace. Blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// [`ParseError`] naming the first line that is not a trace line, a header of another
    /// format or version, an exchange naming a reader no `reader` line declared.
    pub fn parse(text: &str) -> Result<Trace, ParseError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let err = |line: usize, message: String| ParseError { line, message };
        let (n, first) = lines
            .next()
            .ok_or_else(|| err(1, "empty: not a softcard trace".into()))?;
        let secrets = parse_header(first).map_err(|m| err(n, m))?;
        let mut trace = Trace {
            secrets,
            readers: Vec::new(),
            exchanges: Vec::new(),
            events: Vec::new(),
        };
        for (n, line) in lines {
            if let Some(rest) = line.strip_prefix("reader ") {
                let r = parse_reader(rest).map_err(|m| err(n, m))?;
                if trace.readers.iter().any(|o| o.index == r.index) {
                    return Err(err(n, format!("reader {} declared twice", r.index)));
                }
                trace.readers.push(r);
            } else if let Some(e) = parse_event(line).map_err(|m| err(n, m))? {
                if !trace.readers.iter().any(|r| r.index == e.reader) {
                    return Err(err(n, format!("reader {} is not declared", e.reader)));
                }
                trace.events.push(e);
            } else {
                let x = parse_exchange(line).map_err(|m| err(n, m))?;
                if !trace.readers.iter().any(|r| r.index == x.reader) {
                    return Err(err(n, format!("reader {} is not declared", x.reader)));
                }
                trace.exchanges.push(x);
            }
        }
        Ok(trace)
    }

    /// The reader with index `index`.
    pub fn reader(&self, index: usize) -> Option<&ReaderLine> {
        self.readers.iter().find(|r| r.index == index)
    }
}

fn parse_header(line: &str) -> Result<Secrets, String> {
    let mut words = line.split_whitespace();
    if words.next() != Some(MAGIC) {
        return Err(format!(
            "not a softcard trace (it must start with `{MAGIC}`)"
        ));
    }
    let version = words.next().unwrap_or_default();
    if version != VERSION.to_string() && version != "1" {
        return Err(format!(
            "trace format version {version:?}; this softcard reads versions 1 to {VERSION}"
        ));
    }
    match words.next() {
        Some("secrets=redacted") | None => Ok(Secrets::Redacted),
        Some("secrets=clear") => Ok(Secrets::Clear),
        Some(other) => Err(format!("unknown header field {other:?}")),
    }
}

fn parse_reader(rest: &str) -> Result<ReaderLine, String> {
    let mut parts = rest.splitn(3, ' ');
    let index = parts.next().unwrap_or_default();
    let index = index
        .parse()
        .map_err(|_| format!("reader index {index:?} is not a number"))?;
    let profile = parts.next().unwrap_or_default().parse()?;
    let name = parts.next().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err("a reader line needs a name".into());
    }
    Ok(ReaderLine {
        index,
        profile,
        name,
    })
}

/// Splits a line into words; `<...>` is one word, spaces included.
fn words(line: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('<') {
            rest.find('>')
                .map(|i| i + 1)
                .ok_or("a `<` without its `>`")?
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let (word, after) = rest.split_at(end);
        out.push(word);
        rest = after.trim_start();
    }
    Ok(out)
}

fn parse_piece(word: &str) -> Result<Piece, String> {
    if let Some(inner) = word.strip_prefix("<redacted ") {
        let n = inner
            .strip_suffix(" bytes>")
            .or_else(|| inner.strip_suffix(" byte>"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("{word:?} is not `<redacted N bytes>`"))?;
        return Ok(Piece::Redacted(n));
    }
    let bytes = hex::decode(word).map_err(|_| format!("{word:?} is not hexadecimal"))?;
    Ok(Piece::Bytes(bytes))
}

/// Number, time and reader: the first three words of exchange and event lines.
fn line_start(number: &str, time: &str, reader: &str) -> Result<(u64, Timestamp, usize), String> {
    let number = number
        .parse()
        .map_err(|_| format!("number {number:?} is not a number"))?;
    let time = parse_time(time).ok_or_else(|| format!("{time:?} is not a time"))?;
    let reader = reader
        .parse()
        .map_err(|_| format!("reader index {reader:?} is not a number"))?;
    Ok((number, time, reader))
}

/// An event line, or `None` for a line that is not one (an exchange).
fn parse_event(line: &str) -> Result<Option<Event>, String> {
    let words = words(line)?;
    let [number, time, reader, word, rest @ ..] = words.as_slice() else {
        return Ok(None);
    };
    let kind = if let Some((_, k)) = EventKind::WORDS.iter().find(|(w, _)| w == word) {
        k.clone()
    } else if *word == "fault" {
        let [what, command @ ..] = rest else {
            return Err("a fault line needs error= or sw= and the command".into());
        };
        let command = Apdu::from_fields(
            command
                .iter()
                .map(|w| parse_piece(w))
                .collect::<Result<_, _>>()?,
        );
        if let Some(name) = what.strip_prefix("error=") {
            let error = crate::Error::from_name(name)
                .ok_or_else(|| format!("{name:?} is not an SCARD error name"))?;
            EventKind::Failed { error, command }
        } else if let Some(sw) = what.strip_prefix("sw=") {
            let sw = u16::from_str_radix(sw, 16)
                .ok()
                .filter(|_| sw.len() == 4)
                .ok_or_else(|| format!("{sw:?} is not a status word"))?;
            EventKind::Answered { sw, command }
        } else {
            return Err(format!("{what:?}: a fault is error=SCARD_... or sw=XXXX"));
        }
    } else {
        return Ok(None);
    };
    if !rest.is_empty() && !matches!(kind, EventKind::Failed { .. } | EventKind::Answered { .. }) {
        return Err(format!("{word} takes nothing after it"));
    }
    let (number, time, reader) = line_start(number, time, reader)?;
    Ok(Some(Event {
        number,
        time,
        reader,
        kind,
    }))
}

fn parse_exchange(line: &str) -> Result<Exchange, String> {
    let words = words(line)?;
    let [number, time, reader, rest @ ..] = words.as_slice() else {
        return Err(
            "an exchange needs a number, a time, a reader, a command and a response".into(),
        );
    };
    let number = number
        .parse()
        .map_err(|_| format!("exchange number {number:?} is not a number"))?;
    let time = parse_time(time).ok_or_else(|| format!("{time:?} is not a time"))?;
    let reader = reader
        .parse()
        .map_err(|_| format!("reader index {reader:?} is not a number"))?;
    let arrow = rest
        .iter()
        .position(|w| *w == "->")
        .ok_or("no `->` between command and response")?;
    let (command, response) = rest.split_at(arrow);
    let pieces = |ws: &[&str]| ws.iter().map(|w| parse_piece(w)).collect::<Result<_, _>>();
    let command = Apdu::from_fields(pieces(command)?);
    let response = Apdu::from_fields(pieces(response.get(1..).unwrap_or_default())?);
    if command.len() < 4 {
        return Err("a command has at least 4 bytes".into());
    }
    if response.len() < 2 {
        return Err("a response has at least its 2-byte status word".into());
    }
    Ok(Exchange {
        number,
        time,
        reader,
        command,
        response,
    })
}

fn parse_time(word: &str) -> Option<Timestamp> {
    let (secs, micros) = word.split_once('.')?;
    if micros.len() != 6 {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let micros: u64 = micros.parse().ok()?;
    Some(Timestamp(secs.checked_mul(1_000_000)?.checked_add(micros)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "softcard-trace 1 secrets=redacted\n\
        # a comment\n\
        reader 0 piv softcard PIV 00 00\n\
        1 1765000000.000001 0 00a40400 09 a00000030800001000 00 -> 61 11 9000\n\
        2 1765000000.100000 0 00200080 08 <redacted 8 bytes> -> 63c2\n";

    #[test]
    fn a_trace_reads_and_writes_back_the_same_lines() {
        let t = Trace::parse(TEXT).unwrap();
        assert_eq!(t.secrets, Secrets::Redacted);
        assert_eq!(t.readers[0].name, "softcard PIV 00 00");
        assert_eq!(t.exchanges.len(), 2);
        let written: Vec<String> = t.exchanges.iter().map(ToString::to_string).collect();
        let lines: Vec<&str> = TEXT.lines().skip(3).collect();
        assert_eq!(written, lines);
        assert_eq!(t.readers[0].to_string(), TEXT.lines().nth(2).unwrap());
        assert_eq!(t.exchanges[1].response.status_word(), Some(0x63C2));
    }

    #[test]
    fn redacted_stretches_match_any_bytes_of_their_length() {
        let t = Trace::parse(TEXT).unwrap();
        let verify = &t.exchanges[1].command;
        assert!(verify.is_redacted());
        assert_eq!(verify.known_prefix(), [0x00, 0x20, 0x00, 0x80, 0x08]);
        let mut cmd = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        cmd.extend_from_slice(b"87654321");
        assert!(verify.matches(&cmd));
        assert!(!verify.matches(&cmd[..12]));
        cmd[3] = 0x81;
        assert!(!verify.matches(&cmd));
        assert_eq!(verify.bytes(), None);
    }

    #[test]
    fn events_parse_back() {
        let text = "softcard-trace 2 secrets=redacted\nreader 0 piv r\n\
                    1 1.000001 0 power-on\n\
                    2 1.000002 0 fault error=SCARD_E_COMM_DATA_LOST 00fd0000\n\
                    3 1.000003 0 fault sw=6982 00200080 08 <redacted 8 bytes>\n\
                    4 1.000004 0 00fd0000 -> 050403 9000\n\
                    5 1.000005 0 reset\n6 1.000006 0 removed\n7 1.000007 0 inserted\n\
                    8 1.000008 0 power-off\n";
        let trace = Trace::parse(text).unwrap();
        assert_eq!(trace.exchanges.len(), 1);
        assert_eq!(trace.events.len(), 7);
        let lines: Vec<String> = trace.events.iter().map(ToString::to_string).collect();
        for l in &lines {
            assert!(text.contains(l.as_str()), "{l}");
        }
        assert!(matches!(
            trace.events[1].kind,
            EventKind::Failed {
                error: crate::Error::CommDataLost,
                ..
            }
        ));
        // Version 1 traces are still read.
        assert!(Trace::parse("softcard-trace 1\n").is_ok());
    }

    #[test]
    fn bad_lines_are_named() {
        let bad = [
            ("", 1, "empty"),
            ("softcard-trace 3\n", 1, "version"),
            (
                "softcard-trace 2\nreader 0 piv r\n1 1.000000 0 fault sw=69 00870000\n",
                3,
                "status word",
            ),
            (
                "softcard-trace 2\nreader 0 piv r\n1 1.000000 0 reset now\n",
                3,
                "nothing after",
            ),
            (
                "softcard-trace 2\nreader 0 piv r\n1 1.000000 1 removed\n",
                3,
                "not declared",
            ),
            (
                "softcard-trace 1\n1 1.000000 0 00a40000 -> 9000\n",
                2,
                "not declared",
            ),
            (
                "softcard-trace 1\nreader 0 piv r\n1 1.000000 0 00a40400 9000\n",
                3,
                "->",
            ),
            (
                "softcard-trace 1\nreader 0 piv r\n1 1.000000 0 00a4zz00 -> 9000\n",
                3,
                "hexadecimal",
            ),
            ("softcard-trace 1\nreader 0 nfc r\n", 2, "nfc"),
        ];
        for (text, line, word) in bad {
            let e = Trace::parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.to_string().contains(word), "{text:?}: {e}");
        }
    }
}
