//! A recorded trace served as a scripted card: the client under test must send the
//! recorded commands, in order, and gets the recorded responses.
//!
//! A command matches when it goes to the recorded reader and has the recorded bytes; a
//! redacted stretch matches any bytes of its length (a redacted VERIFY matches any PIN of
//! the same padded length). The first command that does not match is the deviation: it
//! and every command after it are answered 6F00 (no precise diagnosis), and
//! [`Replay::finish`] reports it with both commands, redacted as the trace is.

use std::collections::HashMap;
use std::fmt;

use softcard::{Card, CardOptions, NoStorage};

use super::format::{Apdu, Secrets, Trace};
use super::redact;
use crate::Registry;
use crate::registry::lock;

/// The answer to a command that deviates from the script.
const NO_PRECISE_DIAGNOSIS: [u8; 2] = [0x6F, 0x00];

/// Where a replay left the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// The position in the trace (from 1) of the exchange expected.
    pub exchange: usize,
    /// The reader and command the trace expected there (none past its end).
    pub expected: Option<(String, Apdu)>,
    /// The reader and command the client sent (none when it stopped early).
    pub got: Option<(String, Apdu)>,
    /// Why a matching command could not be answered, if that was the trouble.
    pub reason: Option<String>,
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay deviates at exchange {}: ", self.exchange)?;
        match (&self.expected, &self.got) {
            (Some((er, e)), Some((gr, g))) => {
                write!(f, "expected [{er}] {e}, got [{gr}] {g}")?;
            }
            (Some((er, e)), None) => {
                write!(
                    f,
                    "expected [{er}] {e}, but the client sent no more commands"
                )?;
            }
            (None, Some((gr, g))) => write!(f, "the trace has ended, got [{gr}] {g}")?,
            (None, None) => f.write_str("nothing expected, nothing sent")?,
        }
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// A trace being replayed (see the module documentation).
#[derive(Debug)]
pub struct Replay {
    trace: Trace,
    state: std::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next: usize,
    deviation: Option<Deviation>,
    readers: HashMap<usize, redact::ReaderState>,
}

impl Replay {
    /// A replay of `trace`, from its first exchange.
    pub fn new(trace: Trace) -> Replay {
        Replay {
            trace,
            state: std::sync::Mutex::new(State::default()),
        }
    }

    /// The trace replayed.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Puts a stand-in card of the recorded profile into each reader the trace names
    /// (they answer power-on, ATR and status; the script answers the commands).
    ///
    /// # Errors
    /// A card cannot be made, or a reader name is refused ([`crate::Error`]).
    pub fn insert_cards(&self, registry: &Registry) -> Result<(), crate::Error> {
        for r in &self.trace.readers {
            let card = Card::create_seeded(&CardOptions::new(r.profile), 0, Box::new(NoStorage))
                .map_err(|_| crate::Error::InternalError)?;
            registry.insert_card(&r.name, card)?;
        }
        Ok(())
    }

    /// The answer to `command` sent to `reader`.
    pub(crate) fn answer(&self, reader: &str, command: &[u8]) -> Vec<u8> {
        let mut st = lock(&self.state);
        if st.deviation.is_some() {
            return NO_PRECISE_DIAGNOSIS.to_vec();
        }
        let position = st.next + 1;
        let clear = self.trace.secrets == Secrets::Clear;
        let expected = self.trace.exchanges.get(st.next);
        let name_of = |i: usize| {
            self.trace
                .reader(i)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        };
        let got_state = expected
            .map(|x| x.reader)
            .and_then(|i| st.readers.get(&i).copied());
        let profile = self
            .trace
            .readers
            .iter()
            .find(|r| r.name == reader)
            .map(|r| r.profile);
        let mut shown = got_state.unwrap_or(redact::ReaderState::new(profile));
        let got = Some((
            reader.to_string(),
            redact::fields(&mut shown, command, &[0x90, 0x00], clear).0,
        ));
        let Some(x) = expected else {
            st.deviation = Some(Deviation {
                exchange: position,
                expected: None,
                got,
                reason: None,
            });
            return NO_PRECISE_DIAGNOSIS.to_vec();
        };
        let expected_reader = name_of(x.reader);
        let mut deviation = Deviation {
            exchange: position,
            expected: Some((expected_reader.clone(), x.command.clone())),
            got,
            reason: None,
        };
        if expected_reader != reader || !x.command.matches(command) {
            st.deviation = Some(deviation);
            return NO_PRECISE_DIAGNOSIS.to_vec();
        }
        let Some(response) = x.response.bytes() else {
            deviation.reason = Some(
                "its recorded response is redacted: record with --trace-secrets to replay it"
                    .into(),
            );
            st.deviation = Some(deviation);
            return NO_PRECISE_DIAGNOSIS.to_vec();
        };
        let reader_index = x.reader;
        let profile = self.trace.reader(reader_index).map(|r| r.profile);
        let rs = st
            .readers
            .entry(reader_index)
            .or_insert(redact::ReaderState::new(profile));
        redact::fields(rs, command, &response, clear);
        st.next += 1;
        response
    }

    /// How many exchanges of the trace were played so far.
    pub fn played(&self) -> usize {
        lock(&self.state).next
    }

    /// Whether the client sent exactly the recorded commands: the first deviation, or
    /// the first recorded exchange it did not reach.
    ///
    /// # Errors
    /// The [`Deviation`].
    pub fn finish(&self) -> Result<(), Box<Deviation>> {
        let st = lock(&self.state);
        if let Some(d) = &st.deviation {
            return Err(Box::new(d.clone()));
        }
        match self.trace.exchanges.get(st.next) {
            None => Ok(()),
            Some(x) => Err(Box::new(Deviation {
                exchange: st.next + 1,
                expected: Some((
                    self.trace
                        .reader(x.reader)
                        .map(|r| r.name.clone())
                        .unwrap_or_default(),
                    x.command.clone(),
                )),
                got: None,
                reason: None,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "softcard-trace 1\nreader 0 piv R\n\
        1 1.000000 0 00a40400 05 a000000308 -> 9000\n\
        2 1.000000 0 00200080 08 <redacted 8 bytes> -> 63c2\n\
        3 1.000000 0 0087039b 04 <redacted 4 bytes> 00 -> <redacted 12 bytes> 9000\n";

    fn replay() -> Replay {
        Replay::new(Trace::parse(SCRIPT).unwrap())
    }

    const SELECT: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];

    #[test]
    fn the_recorded_answers_come_back_and_a_redacted_pin_matches_by_length() {
        let r = replay();
        assert_eq!(r.answer("R", &SELECT), [0x90, 0x00]);
        let verify = [0x00, 0x20, 0x00, 0x80, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(r.answer("R", &verify), [0x63, 0xC2]);
        assert_eq!(r.played(), 2);
        let e = r.finish().unwrap_err();
        assert_eq!(e.exchange, 3);
        assert!(
            e.to_string().contains("client sent no more commands"),
            "{e}"
        );
    }

    #[test]
    fn a_different_command_is_answered_6f00_and_reported_with_both() {
        let r = replay();
        r.answer("R", &SELECT);
        let verify_puk = [0x00, 0x20, 0x00, 0x81, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(r.answer("R", &verify_puk), [0x6F, 0x00]);
        // Once off the script, everything is 6F00.
        assert_eq!(r.answer("R", &SELECT), [0x6F, 0x00]);
        let e = r.finish().unwrap_err().to_string();
        assert_eq!(
            e,
            "replay deviates at exchange 2: expected [R] 00200080 08 <redacted 8 bytes>, \
             got [R] 00200081 08 <redacted 8 bytes>"
        );
        // Another reader is a deviation too.
        let r = replay();
        assert_eq!(r.answer("Other", &SELECT), [0x6F, 0x00]);
    }

    #[test]
    fn a_redacted_response_cannot_be_replayed_and_says_why() {
        let r = replay();
        r.answer("R", &SELECT);
        r.answer("R", &[0x00, 0x20, 0x00, 0x80, 0x08, 1, 2, 3, 4, 5, 6, 7, 8]);
        let auth = [0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00];
        assert_eq!(r.answer("R", &auth), [0x6F, 0x00]);
        assert!(
            r.finish()
                .unwrap_err()
                .to_string()
                .contains("--trace-secrets")
        );
    }
}
