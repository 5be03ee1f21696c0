//! vpcd's framing, without sockets: a frame is a big-endian `u16` length and that many
//! bytes. From vpcd, a one-byte frame is a control code, a frame of four bytes or more a
//! command APDU; to vpcd, a frame carries the ATR or a response APDU.

use std::io;

/// Control code: power the card off.
pub const CTRL_OFF: u8 = 0x00;
/// Control code: power the card on.
pub const CTRL_ON: u8 = 0x01;
/// Control code: warm reset.
pub const CTRL_RESET: u8 = 0x02;
/// Control code: send the ATR.
pub const CTRL_ATR: u8 = 0x04;

/// Length of a frame's header.
pub const HEADER_LEN: usize = 2;
/// Longest frame the length prefix can announce.
pub const MAX_FRAME: usize = u16::MAX as usize;
/// Shortest command APDU (CLA INS P1 P2).
pub const MIN_APDU: usize = 4;
/// Most response data a frame carries next to the status word.
pub const MAX_RESPONSE_DATA: usize = MAX_FRAME - 2;
/// The extended Le asking for [`MAX_RESPONSE_DATA`] bytes.
const CAPPED_LE: [u8; 2] = [0xFF, 0xFD];

/// Why a connection was dropped.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrameError {
    /// The socket failed.
    Io(io::Error),
    /// The peer closed the connection in the middle of a frame.
    Truncated,
    /// A zero-length frame.
    Empty,
    /// A one-byte frame with an unknown control code.
    UnknownControl(u8),
    /// A frame of 2 or 3 bytes: too short for a command APDU.
    TooShort(usize),
    /// A frame longer than [`Options::max_frame`](super::Options::max_frame).
    Oversized(usize),
    /// vpcd read nothing of a reply for this long
    /// ([`Options::write_stall`](super::Options::write_stall)).
    Stalled(std::time::Duration),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "socket error: {e}"),
            FrameError::Truncated => f.write_str("connection closed in the middle of a frame"),
            FrameError::Empty => f.write_str("empty frame"),
            FrameError::UnknownControl(c) => write!(f, "unknown control code {c:#04x}"),
            FrameError::TooShort(n) => write!(f, "{n}-byte frame is too short for an APDU"),
            FrameError::Oversized(n) => write!(f, "{n}-byte frame exceeds the limit"),
            FrameError::Stalled(d) => write!(f, "vpcd read nothing of a reply for {d:?}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// A frame from vpcd.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// [`CTRL_OFF`].
    PowerOff,
    /// [`CTRL_ON`].
    PowerOn,
    /// [`CTRL_RESET`].
    Reset,
    /// [`CTRL_ATR`]: the reply is the ATR.
    Atr,
    /// A command APDU: the reply is the response APDU.
    Apdu(&'a [u8]),
}

/// The body length a frame header announces, refused before the body is read when no
/// body of that length can be a message: [`FrameError::Empty`], [`FrameError::TooShort`],
/// or [`FrameError::Oversized`] past `max_frame`.
pub fn body_len(header: [u8; HEADER_LEN], max_frame: usize) -> Result<usize, FrameError> {
    let len = usize::from(u16::from_be_bytes(header));
    match len {
        0 => Err(FrameError::Empty),
        n if (2..MIN_APDU).contains(&n) => Err(FrameError::TooShort(n)),
        n if n > max_frame => Err(FrameError::Oversized(n)),
        n => Ok(n),
    }
}

/// The message in a frame's body.
///
/// # Errors
/// [`FrameError::Empty`], [`FrameError::UnknownControl`], [`FrameError::TooShort`].
pub fn decode(body: &[u8]) -> Result<Message<'_>, FrameError> {
    match body {
        [] => Err(FrameError::Empty),
        [CTRL_OFF] => Ok(Message::PowerOff),
        [CTRL_ON] => Ok(Message::PowerOn),
        [CTRL_RESET] => Ok(Message::Reset),
        [CTRL_ATR] => Ok(Message::Atr),
        [other] => Err(FrameError::UnknownControl(*other)),
        short if short.len() < MIN_APDU => Err(FrameError::TooShort(short.len())),
        apdu => Ok(Message::Apdu(apdu)),
    }
}

/// Lowers, in place, an extended Le asking for more than [`MAX_RESPONSE_DATA`] bytes
/// (`FFFE`, `FFFF`, `0000` = 65,536) to [`MAX_RESPONSE_DATA`], so the response fits a frame:
/// a card with more to say answers that much with `61xx` and keeps the rest for GET
/// RESPONSE (ISO 7816-4 section 5.3.4), as it does for any Le shorter than its answer.
/// Returns whether it did; any other frame (a control code, a short or smaller Le, a
/// malformed command) is left alone.
pub fn cap_le(apdu: &mut [u8]) -> bool {
    let too_long = softcard::Command::parse(apdu)
        .is_ok_and(|c| c.extended && c.le.is_some_and(|ne| ne > MAX_RESPONSE_DATA));
    match apdu.last_chunk_mut::<2>() {
        Some(le) if too_long => {
            *le = CAPPED_LE;
            true
        }
        _ => false,
    }
}

/// Replaces `out` with the frame carrying `reply` (an ATR or a response APDU).
///
/// # Errors
/// [`FrameError::Oversized`] for a reply longer than [`MAX_FRAME`].
pub fn encode(reply: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    let n = u16::try_from(reply.len()).map_err(|_| FrameError::Oversized(reply.len()))?;
    out.clear();
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(reply);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_announce_bodies_within_the_limits() {
        assert_eq!(body_len([0, 1], MAX_FRAME).unwrap(), 1);
        assert_eq!(body_len([0, 4], MAX_FRAME).unwrap(), 4);
        assert_eq!(body_len([0x01, 0x05], MAX_FRAME).unwrap(), 261);
        assert_eq!(body_len([0xFF, 0xFF], MAX_FRAME).unwrap(), MAX_FRAME);
        assert!(matches!(
            body_len([0, 0], MAX_FRAME),
            Err(FrameError::Empty)
        ));
        assert!(matches!(
            body_len([0, 2], MAX_FRAME),
            Err(FrameError::TooShort(2))
        ));
        assert!(matches!(
            body_len([0, 3], MAX_FRAME),
            Err(FrameError::TooShort(3))
        ));
        assert!(matches!(
            body_len([0x01, 0x00], 255),
            Err(FrameError::Oversized(256))
        ));
        // The length is checked before the limit: a short frame is short, whatever the limit.
        assert!(matches!(body_len([0, 3], 1), Err(FrameError::TooShort(3))));
        assert!(matches!(body_len([0, 0], 0), Err(FrameError::Empty)));
    }

    #[test]
    fn bodies_are_control_codes_or_apdus() {
        assert_eq!(decode(&[CTRL_OFF]).unwrap(), Message::PowerOff);
        assert_eq!(decode(&[CTRL_ON]).unwrap(), Message::PowerOn);
        assert_eq!(decode(&[CTRL_RESET]).unwrap(), Message::Reset);
        assert_eq!(decode(&[CTRL_ATR]).unwrap(), Message::Atr);
        for code in [0x03, 0x05, 0x80, 0xFF] {
            assert!(matches!(
                decode(&[code]),
                Err(FrameError::UnknownControl(c)) if c == code
            ));
        }
        let apdu = [0x00, 0xA4, 0x04, 0x00];
        assert_eq!(decode(&apdu).unwrap(), Message::Apdu(&apdu));
        assert!(matches!(decode(&[]), Err(FrameError::Empty)));
        assert!(matches!(decode(&[0, 0xA4]), Err(FrameError::TooShort(2))));
        assert!(matches!(
            decode(&[0, 0xA4, 0x04]),
            Err(FrameError::TooShort(3))
        ));
    }

    #[test]
    fn replies_are_length_prefixed() {
        let mut out = vec![0xEE; 3];
        encode(&[0x90, 0x00], &mut out).unwrap();
        assert_eq!(out, [0x00, 0x02, 0x90, 0x00]);
        encode(&[], &mut out).unwrap();
        assert_eq!(out, [0x00, 0x00]);
        let long = vec![0x61; MAX_FRAME];
        encode(&long, &mut out).unwrap();
        assert_eq!(out[..2], [0xFF, 0xFF]);
        assert_eq!(out.len(), HEADER_LEN + MAX_FRAME);
        assert!(matches!(
            encode(&vec![0; MAX_FRAME + 1], &mut out),
            Err(FrameError::Oversized(n)) if n == MAX_FRAME + 1
        ));
    }

    #[test]
    fn an_encoded_reply_reads_back() {
        let mut out = Vec::new();
        let response = [0x01, 0x02, 0x03, 0x90, 0x00];
        encode(&response, &mut out).unwrap();
        let (header, body) = out.split_first_chunk::<HEADER_LEN>().unwrap();
        assert_eq!(body_len(*header, MAX_FRAME).unwrap(), body.len());
        assert_eq!(decode(body).unwrap(), Message::Apdu(&response));
    }

    #[test]
    fn an_extended_le_past_a_frame_is_capped() {
        assert_eq!(
            usize::from(u16::from_be_bytes(CAPPED_LE)),
            MAX_RESPONSE_DATA
        );
        // Case 2E and 4E, Le 0000, FFFF, FFFE: capped.
        for le in [[0x00, 0x00], [0xFF, 0xFF], [0xFF, 0xFE]] {
            let mut case2 = vec![0x00, 0xC0, 0x00, 0x00, 0x00, le[0], le[1]];
            assert!(cap_le(&mut case2));
            assert_eq!(case2, [0x00, 0xC0, 0x00, 0x00, 0x00, 0xFF, 0xFD]);
            let mut case4 = vec![0x00, 0xCB, 0xA0, 0x10, 0x00, 0x00, 0x02, 0x5C, 0x00];
            case4.extend_from_slice(&le);
            assert!(cap_le(&mut case4));
            assert_eq!(case4[9..], [0xFF, 0xFD]);
            assert_eq!(
                case4[..9],
                [0x00, 0xCB, 0xA0, 0x10, 0x00, 0x00, 0x02, 0x5C, 0x00]
            );
        }
        // Left alone: an Le a frame can answer, a short Le, no Le, control codes, garbage.
        let untouched: [&[u8]; 7] = [
            &[0x00, 0xC0, 0x00, 0x00, 0x00, 0xFF, 0xFD],
            &[0x00, 0xC0, 0x00, 0x00, 0x00, 0x01, 0x00],
            &[0x00, 0xC0, 0x00, 0x00, 0x00],
            &[0x00, 0xDB, 0x3F, 0xFF, 0x00, 0x00, 0x02, 0x00, 0x00],
            &[0x00, 0xA4, 0x04, 0x00],
            &[CTRL_ATR],
            &[0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
        ];
        for frame in untouched {
            let mut copy = frame.to_vec();
            assert!(!cap_le(&mut copy), "{frame:02X?}");
            assert_eq!(copy, frame);
        }
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            FrameError::UnknownControl(3).to_string(),
            "unknown control code 0x03"
        );
        assert_eq!(
            FrameError::TooShort(2).to_string(),
            "2-byte frame is too short for an APDU"
        );
        assert_eq!(
            FrameError::Oversized(70000).to_string(),
            "70000-byte frame exceeds the limit"
        );
        assert_eq!(
            FrameError::Stalled(std::time::Duration::from_secs(5)).to_string(),
            "vpcd read nothing of a reply for 5s"
        );
    }
}
