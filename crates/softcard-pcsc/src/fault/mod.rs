//! Fault injection: a card that fails on purpose, the same way every time.
//!
//! A [`Registry`](crate::Registry) holds a set of [`Fault`]s that every exchange with its
//! cards passes through, whatever the route (the in-process API, the host serving
//! `softcard exec` and `serve` clients, the vpcd bridge to pcscd):
//!
//! - [`FaultKind::FailTransmit`]: the next N transmissions fail with a chosen `SCARD_*`
//!   error, and the card does not see them;
//! - [`FaultKind::Answer`]: commands that match a [`Pattern`] (an instruction byte, a hex
//!   prefix of the APDU, or an [`Operation`]) are answered with a chosen status word,
//!   once, N times or always; the card does not see them, so its state does not change;
//! - [`FaultKind::Latency`]: an [`Operation`] (sign, decrypt, key generation, PIN
//!   verification, any APDU) takes at least a given time; [`LatencyProfile::Tpm`] makes
//!   signatures and key generation as slow as a TPM-backed virtual smart card;
//! - [`FaultKind::Event`]: a command that matches a [`Pattern`] makes the card leave its
//!   reader (put back after a delay, or left out) or lose power, as a card pulled out in
//!   the middle of a signature: the command fails with `SCARD_W_REMOVED_CARD` or
//!   `SCARD_W_RESET_CARD` without reaching the card, and every client sees the event.
//!
//! Card events are also registry calls: [`Registry::eject`](crate::Registry::eject) and
//! [`Registry::reinsert`](crate::Registry::reinsert) take the card out and put it back,
//! [`Registry::power_cycle`](crate::Registry::power_cycle) resets it.
//!
//! The same faults are written as text lines (see [`Fault`]'s `FromStr`): in a file given
//! to `softcard exec --faults FILE` or `serve --faults FILE`, and in `softcard ctl fault
//! LINE` to a running host. The format is in `docs/faults.md`.
//!
//! ```
//! use softcard::{Card, CardOptions, NoStorage, Profile};
//! use softcard_pcsc::fault::{Fault, Pattern};
//! use softcard_pcsc::{Error, Protocols, Registry, Scope, ShareMode, MAX_BUFFER_SIZE};
//!
//! let registry = Registry::new();
//! let card = Card::create_seeded(&CardOptions::new(Profile::Piv), 1, Box::new(NoStorage)).unwrap();
//! registry.insert_card("Doc Reader", card).unwrap();
//! registry.inject(Fault::answer(Pattern::Ins(0xCB), 0x6A82));
//! registry.inject("fail error=SCARD_E_COMM_DATA_LOST".parse().unwrap());
//!
//! let ctx = registry.establish(Scope::User).unwrap();
//! let card = ctx.connect(c"Doc Reader", ShareMode::Shared, Protocols::ANY).unwrap();
//! let mut buf = [0; MAX_BUFFER_SIZE];
//! let get_version = [0x00, 0xFD, 0x00, 0x00, 0x00];
//! assert_eq!(card.transmit(&get_version, &mut buf), Err(Error::CommDataLost));
//! let get_chuid = [0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00];
//! assert_eq!(card.transmit(&get_chuid, &mut buf).unwrap(), [0x6A, 0x82]);
//! // Each fault fired once: the card answers again.
//! assert_eq!(card.transmit(&get_version, &mut buf).unwrap().last(), Some(&0x00));
//! ```

mod text;

use std::collections::HashMap;
use std::time::Duration;

use crate::Error;
use crate::trace::redact::Selected;

pub use text::{FaultParseError, parse_plan};

/// A fault, and the reader it applies to (`None`: every reader of the registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// The reader whose card fails; `None` for every reader.
    pub reader: Option<String>,
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The next `count` transmissions fail with `error` (`SCardTransmit` returns it; through
    /// pcscd, the bridge drops the connection, which pcscd reports as its own error). The
    /// card does not see the command.
    FailTransmit {
        /// How many transmissions fail.
        count: u32,
        /// The error they fail with.
        error: Error,
    },
    /// Commands matching `pattern` are answered `sw` (no data), `times` times. The card
    /// does not see them: its state does not change.
    Answer {
        /// Which commands.
        pattern: Pattern,
        /// The status word answered.
        sw: u16,
        /// How many commands get it.
        times: Times,
    },
    /// `operation` takes at least `delay` (replacing an earlier latency of the same
    /// operation; zero removes it). [`Operation::Apdu`] is added to every command.
    Latency {
        /// Which operation.
        operation: Operation,
        /// How long it takes at least.
        delay: Duration,
    },
    /// Commands matching `pattern` trigger `event`, `times` times: the command fails
    /// ([`Error::RemovedCard`] or [`Error::ResetCard`]) without reaching the card, then the
    /// card leaves its reader or is power-cycled, as with
    /// [`Registry::eject`](crate::Registry::eject) and
    /// [`Registry::power_cycle`](crate::Registry::power_cycle).
    Event {
        /// Which commands.
        pattern: Pattern,
        /// What happens to the card.
        event: CardEvent,
        /// How many commands trigger it.
        times: Times,
        /// For a removal: the card is put back after this long (`None`: it stays out
        /// until [`Registry::reinsert`](crate::Registry::reinsert) or `softcard ctl
        /// insert`).
        back: Option<Duration>,
    },
}

/// What a [`FaultKind::Event`] does to the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardEvent {
    /// The card leaves its reader.
    Remove,
    /// The card loses power and gets it back (its security state is gone).
    Reset,
}

/// How many times a fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// This many times, then the fault is gone.
    Count(u32),
    /// Every time, until the faults are cleared.
    Always,
}

/// Which commands an [`FaultKind::Answer`] fault answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Commands with this instruction byte (INS).
    Ins(u8),
    /// Commands whose bytes start with these.
    Prefix(Vec<u8>),
    /// Commands that perform this operation (see [`Operation`]).
    Operation(Operation),
}

/// A card operation, as told from the command APDU and the application selected on the
/// reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A private-key signature: PIV GENERAL AUTHENTICATE (87) with a key other than the
    /// key-management ones (9D, 82-95) and the management key (9B); GIDS PERFORM SECURITY
    /// OPERATION: COMPUTE DIGITAL SIGNATURE (2A, P1P2 9E9A).
    Sign,
    /// A private-key decryption or key agreement: PIV GENERAL AUTHENTICATE with a
    /// key-management key (9D, 82-95); GIDS PERFORM SECURITY OPERATION: DECIPHER (2A,
    /// P1P2 8086).
    Decrypt,
    /// GENERATE ASYMMETRIC KEY PAIR (47), PIV and GIDS.
    Keygen,
    /// VERIFY (20), PIV and GIDS.
    VerifyPin,
    /// Any command APDU.
    Apdu,
}

impl Operation {
    /// Every operation, in the order of their names in the text format.
    pub const ALL: [Operation; 5] = [
        Operation::Sign,
        Operation::Decrypt,
        Operation::Keygen,
        Operation::VerifyPin,
        Operation::Apdu,
    ];

    /// Its name in the text format: `sign`, `decrypt`, `keygen`, `verify-pin`, `apdu`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Sign => "sign",
            Operation::Decrypt => "decrypt",
            Operation::Keygen => "keygen",
            Operation::VerifyPin => "verify-pin",
            Operation::Apdu => "apdu",
        }
    }

    /// The operation named `name`.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.name() == name)
    }

    /// The operation a command performs (other than [`Operation::Apdu`], which all do), with
    /// `selected` the application selected on the reader. A part of a chained command
    /// (CLA bit 0x10) performs nothing yet: the card acts on the last part.
    pub(crate) fn of(selected: Selected, apdu: &[u8]) -> Option<Operation> {
        let [cla, ins, p1, p2, ..] = *apdu else {
            return None;
        };
        if cla & 0x10 != 0 {
            return None;
        }
        match (ins, selected) {
            (0x20, _) => Some(Operation::VerifyPin),
            (0x47, _) => Some(Operation::Keygen),
            (0x87, Selected::Piv | Selected::Unknown) => match p2 {
                0x9B => None,
                0x9D | 0x82..=0x95 => Some(Operation::Decrypt),
                _ => Some(Operation::Sign),
            },
            (0x2A, Selected::Gids) => match (p1, p2) {
                (0x9E, 0x9A) => Some(Operation::Sign),
                (0x80, 0x86) => Some(Operation::Decrypt),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Built-in sets of latencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LatencyProfile {
    /// As slow as the TPM 2.0 behind a Windows virtual smart card: 200 ms per signature
    /// or decryption (the median of "single-digit signatures per second", see
    /// `docs/performance.md`) and 5 s per RSA-2048 key generation (see `docs/faults.md`
    /// for the source).
    Tpm,
}

impl LatencyProfile {
    /// Its name in the text format (`tpm`).
    pub fn name(self) -> &'static str {
        match self {
            LatencyProfile::Tpm => "tpm",
        }
    }

    /// The profile named `name`.
    pub fn from_name(name: &str) -> Option<LatencyProfile> {
        (name == "tpm").then_some(LatencyProfile::Tpm)
    }

    /// Its latencies.
    pub fn latencies(self) -> Vec<(Operation, Duration)> {
        match self {
            LatencyProfile::Tpm => vec![
                (Operation::Sign, Duration::from_millis(200)),
                (Operation::Decrypt, Duration::from_millis(200)),
                (Operation::Keygen, Duration::from_secs(5)),
            ],
        }
    }

    /// Its latencies as faults on every reader.
    pub fn faults(self) -> Vec<Fault> {
        self.latencies()
            .into_iter()
            .map(|(operation, delay)| Fault::latency(operation, delay))
            .collect()
    }
}

impl Fault {
    /// The next `count` transmissions fail with `error`.
    pub fn fail_transmit(count: u32, error: Error) -> Fault {
        Fault::every_reader(FaultKind::FailTransmit { count, error })
    }

    /// The next command matching `pattern` is answered `sw` (see [`Fault::times`]).
    pub fn answer(pattern: Pattern, sw: u16) -> Fault {
        Fault::every_reader(FaultKind::Answer {
            pattern,
            sw,
            times: Times::Count(1),
        })
    }

    /// `operation` takes at least `delay`.
    pub fn latency(operation: Operation, delay: Duration) -> Fault {
        Fault::every_reader(FaultKind::Latency { operation, delay })
    }

    /// The next command matching `pattern` makes the card leave its reader (see
    /// [`Fault::back_after`] and [`Fault::times`]).
    pub fn remove_on(pattern: Pattern) -> Fault {
        Fault::event(pattern, CardEvent::Remove)
    }

    /// The next command matching `pattern` power-cycles the card (see [`Fault::times`]).
    pub fn reset_on(pattern: Pattern) -> Fault {
        Fault::event(pattern, CardEvent::Reset)
    }

    fn event(pattern: Pattern, event: CardEvent) -> Fault {
        Fault::every_reader(FaultKind::Event {
            pattern,
            event,
            times: Times::Count(1),
            back: None,
        })
    }

    /// The same removal, with the card put back `delay` after it left; other faults are
    /// left as they are.
    pub fn back_after(mut self, delay: Duration) -> Fault {
        if let FaultKind::Event {
            event: CardEvent::Remove,
            back,
            ..
        } = &mut self.kind
        {
            *back = Some(delay);
        }
        self
    }

    fn every_reader(kind: FaultKind) -> Fault {
        Fault { kind, reader: None }
    }

    /// The same fault, on the card in `reader` only.
    pub fn on_reader(mut self, reader: impl Into<String>) -> Fault {
        self.reader = Some(reader.into());
        self
    }

    /// The same fault, firing `times` times (an answer or a failed transmission;
    /// [`Times::Always`] for a failed transmission fails every one). A latency has no
    /// count and is left as it is.
    pub fn times(mut self, times: Times) -> Fault {
        match &mut self.kind {
            FaultKind::Answer { times: t, .. } | FaultKind::Event { times: t, .. } => *t = times,
            FaultKind::FailTransmit { count, .. } => {
                *count = match times {
                    Times::Count(n) => n,
                    Times::Always => u32::MAX,
                }
            }
            FaultKind::Latency { .. } => {}
        }
        self
    }
}

/// What happens to one command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The transmission fails.
    Fail(Error),
    /// The command is answered with this status word, without reaching the card.
    Answer(u16),
    /// The card answers, then the answer waits this long.
    Pass(Duration),
    /// The transmission fails and the event happens to the card once the exchange is over.
    Event {
        event: CardEvent,
        back: Option<Duration>,
    },
}

/// Whether `apdu` (performing `operation`) matches `pattern`.
fn matches(pattern: &Pattern, apdu: &[u8], operation: Option<Operation>) -> bool {
    match pattern {
        Pattern::Ins(ins) => apdu.get(1) == Some(ins),
        Pattern::Prefix(p) => apdu.starts_with(p),
        Pattern::Operation(o) => *o == Operation::Apdu || operation == Some(*o),
    }
}

/// Uses up one firing of a fault that fires `times` times; whether it is spent.
fn spend(times: &mut Times) -> bool {
    match times {
        Times::Always => false,
        Times::Count(n) => {
            *n = n.saturating_sub(1);
            *n == 0
        }
    }
}

/// The faults of a registry, and what they need to remember of each reader.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    faults: Vec<Fault>,
    /// The application selected on each reader (for [`Operation::of`]).
    selected: HashMap<String, Selected>,
}

fn applies(fault: &Fault, reader: &str) -> bool {
    fault.reader.as_deref().is_none_or(|r| r == reader)
}

impl FaultSet {
    /// Adds a fault; a latency replaces the one of its operation and reader.
    pub(crate) fn add(&mut self, fault: Fault) {
        if let FaultKind::Latency { operation, .. } = fault.kind {
            self.faults.retain(|f| {
                !(matches!(f.kind, FaultKind::Latency { operation: o, .. } if o == operation)
                    && f.reader == fault.reader)
            });
        }
        let zero = matches!(fault.kind, FaultKind::Latency { delay, .. } if delay.is_zero());
        if !zero {
            self.faults.push(fault);
        }
    }

    /// Removes every fault.
    pub(crate) fn clear(&mut self) {
        self.faults.clear();
    }

    /// The faults in force, in the order they were added.
    pub(crate) fn list(&self) -> Vec<Fault> {
        self.faults.clone()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.faults.is_empty()
    }

    /// What happens to `apdu` sent to the card (of `profile`) in `reader`: the first
    /// failure, answer or card event that applies fires (and is used up); otherwise the
    /// latencies of the command's operation and of every APDU add up.
    pub(crate) fn decide(
        &mut self,
        reader: &str,
        profile: softcard::Profile,
        apdu: &[u8],
    ) -> Decision {
        let selected = *self
            .selected
            .entry(reader.to_string())
            .or_insert_with(|| Selected::default_of(profile));
        let operation = Operation::of(selected, apdu);
        let fired = self.faults.iter_mut().enumerate().find_map(|(i, f)| {
            if !applies(f, reader) {
                return None;
            }
            match &mut f.kind {
                FaultKind::FailTransmit { count, error } => {
                    let d = Decision::Fail(*error);
                    // u32::MAX stands for always.
                    if *count != u32::MAX {
                        *count = count.saturating_sub(1);
                    }
                    Some((i, d, *count == 0))
                }
                FaultKind::Answer { pattern, sw, times } => {
                    if !matches(pattern, apdu, operation) {
                        return None;
                    }
                    Some((i, Decision::Answer(*sw), spend(times)))
                }
                FaultKind::Event {
                    pattern,
                    event,
                    times,
                    back,
                } => {
                    if !matches(pattern, apdu, operation) {
                        return None;
                    }
                    let d = Decision::Event {
                        event: *event,
                        back: *back,
                    };
                    Some((i, d, spend(times)))
                }
                FaultKind::Latency { .. } => None,
            }
        });
        if let Some((i, decision, spent)) = fired {
            if spent {
                self.faults.remove(i);
            }
            return decision;
        }
        let delay = self
            .faults
            .iter()
            .filter(|f| applies(f, reader))
            .filter_map(|f| match f.kind {
                FaultKind::Latency {
                    operation: o,
                    delay,
                } if o == Operation::Apdu || Some(o) == operation => Some(delay),
                _ => None,
            })
            .sum();
        Decision::Pass(delay)
    }

    /// Notes the card's answer to `apdu` in `reader` (a successful SELECT by AID changes
    /// the application the next commands are classified by).
    pub(crate) fn answered(&mut self, reader: &str, apdu: &[u8], response: &[u8]) {
        let ok = matches!(response, [.., 0x90, 0x00] | [.., 0x61, _]);
        if let [_, 0xA4, 0x04, _, lc, rest @ ..] = apdu {
            if ok {
                let aid = rest.get(..usize::from(*lc)).unwrap_or(rest);
                self.selected
                    .insert(reader.to_string(), Selected::by_aid(aid));
            }
        }
    }

    /// Forgets what is known of `reader`'s card (it was reset, removed or replaced).
    pub(crate) fn forget(&mut self, reader: &str) {
        self.selected.remove(reader);
    }
}

#[cfg(test)]
mod tests;
