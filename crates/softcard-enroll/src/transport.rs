//! APDU transport: a card reached through anything that exchanges command and response
//! APDUs, and the client side of ISO 7816-4 framing (command chaining, `61xx` GET
//! RESPONSE, `6Cxx` retries).

use crate::EnrollError;
use zeroize::Zeroizing;

/// Why an APDU could not be exchanged with the card at all (reader gone, card removed,
/// sharing violation...); a status word from the card is not a transport error.
#[derive(Debug, thiserror::Error)]
#[error("card transport: {message}")]
pub struct TransportError {
    message: String,
}

impl TransportError {
    /// An error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        TransportError {
            message: message.into(),
        }
    }
}

/// Something that sends one command APDU to a card and returns the response APDU (data
/// followed by SW1 SW2): an in-process [`softcard::Card`], a PC/SC connection.
///
/// Implementations pass bytes through unchanged; framing (chaining, GET RESPONSE) is done
/// by this crate on top of them.
pub trait Transport {
    /// Exchanges one APDU.
    ///
    /// # Errors
    /// [`TransportError`] when no response could be had.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
}

/// The in-process virtual card: never fails to answer.
impl Transport for softcard::Card {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(softcard::Card::transmit(self, apdu))
    }
}

/// A virtual card in a reader of the in-process PC/SC front.
#[cfg(feature = "softcard-pcsc")]
impl Transport for softcard_pcsc::Card {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0; softcard_pcsc::MAX_BUFFER_SIZE_EXTENDED];
        softcard_pcsc::Card::transmit(self, apdu, &mut buf)
            .map(<[u8]>::to_vec)
            .map_err(|e| TransportError::new(e.to_string()))
    }
}

/// A real card through the system's PC/SC library (`pcsc` crate).
#[cfg(feature = "pcsc")]
impl Transport for pcsc::Card {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        pcsc::Card::transmit(self, apdu, &mut buf)
            .map(<[u8]>::to_vec)
            .map_err(|e| TransportError::new(e.to_string()))
    }
}

/// Success.
pub(crate) const SW_OK: u16 = 0x9000;
/// Largest command data field of a short APDU.
const SHORT_LC: usize = 255;

/// A response: its data (all GET RESPONSE parts joined) and the final status word.
#[derive(Debug)]
pub(crate) struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Response {
    /// The data when the card answered 9000; otherwise [`EnrollError::Card`] naming
    /// `command` and the status word.
    pub fn ok(self, command: &'static str) -> Result<Vec<u8>, EnrollError> {
        if self.sw == SW_OK {
            Ok(self.data)
        } else {
            Err(EnrollError::Card {
                command,
                sw: self.sw,
            })
        }
    }
}

/// A short command APDU. Its data may be a PIN or a key: the buffer is wiped when dropped.
fn short(header: [u8; 4], data: &[u8], le: Option<u8>) -> Zeroizing<Vec<u8>> {
    let mut apdu = Zeroizing::new(Vec::with_capacity(data.len() + 6));
    apdu.extend_from_slice(&header);
    if !data.is_empty() {
        apdu.push(data.len() as u8);
        apdu.extend_from_slice(data);
    }
    if let Some(le) = le {
        apdu.push(le);
    }
    apdu
}

fn split_sw(mut raw: Vec<u8>) -> Result<(Vec<u8>, u16), EnrollError> {
    if raw.len() < 2 {
        return Err(EnrollError::Transport(TransportError::new(
            "response shorter than a status word",
        )));
    }
    let lo = raw.pop().unwrap_or(0);
    let hi = raw.pop().unwrap_or(0);
    Ok((raw, u16::from_be_bytes([hi, lo])))
}

/// Sends a command (chained in parts of 255 bytes when its data is longer) and collects
/// its whole response: `61xx` is followed by GET RESPONSE until the card is done, `6Cxx`
/// repeats the command with the length the card asked for. `want_data` sends Le = 00.
///
/// # Errors
/// [`EnrollError::Transport`], or [`EnrollError::Card`] when a chained part is refused.
pub(crate) fn exchange(
    t: &mut dyn Transport,
    header: [u8; 4],
    data: &[u8],
    want_data: bool,
) -> Result<Response, EnrollError> {
    let [cla, ins, p1, p2] = header;
    let mut parts = data.chunks(SHORT_LC).peekable();
    let mut last = data;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            last = part;
            break;
        }
        let (_, sw) = split_sw(t.transmit(&short([cla | 0x10, ins, p1, p2], part, None))?)?;
        if sw != SW_OK {
            return Err(EnrollError::Card {
                command: "chained command",
                sw,
            });
        }
    }
    let le = want_data.then_some(0);
    let (mut out, mut sw) = split_sw(t.transmit(&short(header, last, le))?)?;
    if sw >> 8 == 0x6C {
        (out, sw) = split_sw(t.transmit(&short(header, last, Some(sw as u8)))?)?;
    }
    while sw >> 8 == 0x61 {
        let (more, next) = split_sw(t.transmit(&[0x00, 0xC0, 0x00, 0x00, sw as u8])?)?;
        out.extend_from_slice(&more);
        sw = next;
    }
    Ok(Response { data: out, sw })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from a script and records what it was sent.
    struct Script {
        sent: Vec<Vec<u8>>,
        answers: Vec<Vec<u8>>,
    }

    impl Transport for Script {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(apdu.to_vec());
            if self.answers.is_empty() {
                return Err(TransportError::new("no more answers"));
            }
            Ok(self.answers.remove(0))
        }
    }

    #[test]
    fn long_commands_are_chained_and_responses_collected() {
        let mut s = Script {
            sent: Vec::new(),
            answers: vec![vec![0x90, 0], vec![1, 2, 0x61, 0x02], vec![3, 4, 0x90, 0]],
        };
        let r = exchange(&mut s, [0, 0xDB, 0x3F, 0xFF], &[7; 300], true).unwrap();
        assert_eq!((r.data, r.sw), (vec![1, 2, 3, 4], 0x9000));
        assert_eq!(s.sent[0][..5], [0x10, 0xDB, 0x3F, 0xFF, 255]);
        assert_eq!(s.sent[0].len(), 5 + 255);
        assert_eq!(s.sent[1][..5], [0x00, 0xDB, 0x3F, 0xFF, 45]);
        assert_eq!(s.sent[1].last(), Some(&0));
        assert_eq!(s.sent[2], [0, 0xC0, 0, 0, 2]);
    }

    #[test]
    fn refused_chain_part_and_wrong_length_retry() {
        let mut s = Script {
            sent: Vec::new(),
            answers: vec![vec![0x6A, 0x80]],
        };
        let e = exchange(&mut s, [0, 0xDB, 0x3F, 0xFF], &[7; 300], false).unwrap_err();
        assert!(matches!(e, EnrollError::Card { sw: 0x6A80, .. }), "{e}");
        let mut s = Script {
            sent: Vec::new(),
            answers: vec![vec![0x6C, 0x04], vec![9, 9, 9, 9, 0x90, 0]],
        };
        let r = exchange(&mut s, [0, 0xCA, 0, 0x66], &[], true).unwrap();
        assert_eq!(r.data, [9; 4]);
        assert_eq!(s.sent[1], [0, 0xCA, 0, 0x66, 4]);
        let mut s = Script {
            sent: Vec::new(),
            answers: vec![vec![0x90]],
        };
        assert!(exchange(&mut s, [0, 0xCA, 0, 0x66], &[], true).is_err());
    }
}
