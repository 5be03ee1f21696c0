//! Command APDUs (ISO 7816-4 section 5.1): cases 1 to 4, short and extended.
//!
//! [`Command::parse`] borrows the bytes it is given and checks only the encoding; what the
//! fields mean is each applet's business (see the applets' own command enums).

use crate::Status;

/// Largest Ne a short Le can ask for (Le = 00).
pub const SHORT_MAX_NE: usize = 256;
/// Largest Ne an extended Le can ask for (Le = 0000).
pub const EXTENDED_MAX_NE: usize = 65_536;

/// A parsed command APDU, borrowing its data field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// The command data field (Nc bytes, possibly empty).
    pub data: &'a [u8],
    /// Ne, the maximum number of response bytes expected, if Le was present
    /// (Le = 00 is 256, extended Le = 0000 is 65536).
    pub le: Option<usize>,
    /// Whether Lc/Le used the extended (three- or two-byte) encoding.
    pub extended: bool,
}

impl<'a> Command<'a> {
    /// Parses a command APDU of case 1, 2, 3 or 4, short or extended.
    ///
    /// # Errors
    /// [`Status::WrongLength`] (6700) when the length fields do not match the bytes given.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Status> {
        let (header, body) = bytes.split_first_chunk::<4>().ok_or(Status::WrongLength)?;
        let [cla, ins, p1, p2] = *header;
        let mut cmd = Command {
            cla,
            ins,
            p1,
            p2,
            data: &[],
            le: None,
            extended: false,
        };
        match body {
            // case 1
            [] => {}
            // case 2 short
            [le] => cmd.le = Some(short_ne(*le)),
            // extended encodings start with a zero byte
            [0, hi, lo, rest @ ..] => {
                cmd.extended = true;
                let value = u16::from_be_bytes([*hi, *lo]);
                if rest.is_empty() {
                    // case 2 extended
                    cmd.le = Some(extended_ne(value));
                } else {
                    let nc = usize::from(value);
                    if nc == 0 {
                        return Err(Status::WrongLength);
                    }
                    match rest.len().checked_sub(nc) {
                        Some(0) => cmd.data = rest,
                        Some(2) => {
                            let (data, le) = rest.split_at(nc);
                            cmd.data = data;
                            if let [hi, lo] = le {
                                cmd.le = Some(extended_ne(u16::from_be_bytes([*hi, *lo])));
                            }
                        }
                        _ => return Err(Status::WrongLength),
                    }
                }
            }
            [lc, rest @ ..] => {
                let nc = usize::from(*lc);
                if nc == 0 {
                    return Err(Status::WrongLength);
                }
                match rest.len().checked_sub(nc) {
                    Some(0) => cmd.data = rest,
                    Some(1) => {
                        let (data, le) = rest.split_at(nc);
                        cmd.data = data;
                        cmd.le = le.first().map(|b| short_ne(*b));
                    }
                    _ => return Err(Status::WrongLength),
                }
            }
        }
        Ok(cmd)
    }

    /// Ne, or the largest response this encoding allows when Le is absent.
    pub fn ne_or_max(&self) -> usize {
        match (self.le, self.extended) {
            (Some(ne), _) => ne,
            (None, true) => EXTENDED_MAX_NE,
            (None, false) => SHORT_MAX_NE,
        }
    }

    /// P1 and P2 as one big-endian number.
    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.p1, self.p2])
    }

    /// Whether the class byte announces more commands of a chain (bit 0x10).
    pub fn is_chained(&self) -> bool {
        self.cla & 0x10 != 0
    }
}

fn short_ne(le: u8) -> usize {
    if le == 0 {
        SHORT_MAX_NE
    } else {
        usize::from(le)
    }
}

fn extended_ne(le: u16) -> usize {
    if le == 0 {
        EXTENDED_MAX_NE
    } else {
        usize::from(le)
    }
}

/// Encodes a command APDU, choosing the short form when it fits and the extended form
/// otherwise. `le` is Ne (256 or 65536 become 00 / 0000).
///
/// # Errors
/// [`Status::WrongLength`] when the data is longer than 65535 bytes or `le` exceeds 65536.
pub fn encode_command(
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &[u8],
    le: Option<usize>,
) -> Result<Vec<u8>, Status> {
    if data.len() > 65_535 || le.is_some_and(|n| n == 0 || n > EXTENDED_MAX_NE) {
        return Err(Status::WrongLength);
    }
    let extended = data.len() > 255 || le.is_some_and(|n| n > SHORT_MAX_NE);
    let mut out = Vec::with_capacity(data.len() + 9);
    out.extend_from_slice(&[cla, ins, p1, p2]);
    if extended {
        out.push(0);
        if !data.is_empty() {
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            out.extend_from_slice(&((n % EXTENDED_MAX_NE) as u16).to_be_bytes());
        }
    } else {
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if let Some(n) = le {
            out.push((n % SHORT_MAX_NE) as u8);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_cases_short() {
        let c = Command::parse(&[0, 0xA4, 4, 0]).unwrap();
        assert_eq!((c.data, c.le), (&[][..], None));
        let c = Command::parse(&[0, 0xCA, 0, 0, 0]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0, 0x20, 0, 0x80, 2, 1, 2]).unwrap();
        assert_eq!((c.data, c.le), (&[1, 2][..], None));
        let c = Command::parse(&[0, 0xCB, 0x3F, 0xFF, 1, 7, 0x10]).unwrap();
        assert_eq!((c.data, c.le, c.extended), (&[7][..], Some(16), false));
    }

    #[test]
    fn four_cases_extended() {
        let c = Command::parse(&[0, 0xCA, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((c.le, c.extended), (Some(65536), true));
        let c = Command::parse(&[0, 0x2A, 0x80, 0x86, 0, 0, 2, 9, 9]).unwrap();
        assert_eq!((c.data, c.le), (&[9, 9][..], None));
        let c = Command::parse(&[0, 0x2A, 0x80, 0x86, 0, 0, 1, 9, 1, 0]).unwrap();
        assert_eq!((c.data, c.le), (&[9][..], Some(256)));
    }

    #[test]
    fn bad_lengths_are_6700() {
        for bad in [
            &[0u8, 1, 2][..],
            &[0, 1, 2, 3, 5, 1],
            &[0, 1, 2, 3, 1, 1, 2, 3],
            &[0, 1, 2, 3, 0, 0],
            &[0, 1, 2, 3, 0, 0, 0, 1],
            &[0, 1, 2, 3, 0, 0, 2, 1],
        ] {
            assert_eq!(Command::parse(bad), Err(Status::WrongLength), "{bad:02X?}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let big = vec![0x5A; 300];
        for (data, le) in [
            (&[][..], None),
            (&[][..], Some(256)),
            (&[1, 2, 3][..], None),
            (&[1, 2, 3][..], Some(10)),
            (&big[..], None),
            (&big[..], Some(65536)),
            (&[][..], Some(1000)),
        ] {
            let bytes = encode_command(0x80, 1, 2, 3, data, le).unwrap();
            let c = Command::parse(&bytes).unwrap();
            assert_eq!((c.data, c.le), (data, le));
        }
    }
}
