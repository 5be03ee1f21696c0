//! ISO 7816-4 status words: the card's error type.
//!
//! Every failure a command can meet ends up as one [`Status`]; [`Status::sw`] is the one
//! place that turns it into the two bytes SW1 SW2 the host sees.

use core::fmt;

/// A status word (SW1 SW2) other than plain success, or success itself.
///
/// Applets return `Err(Status)` for every failure; the card appends [`Status::sw`] to the
/// response. Variants name the ISO 7816-4 meaning; the word is in each variant's doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// 9000: normal processing.
    Success,
    /// 61xx: xx more bytes available with GET RESPONSE (xx = 00 means 256 or more).
    BytesRemaining(u8),
    /// 6281: part of the returned data may be corrupted.
    DataMayBeCorrupted,
    /// 63Cx: verification failed, x tries left (0..=15).
    TriesLeft(u8),
    /// 6581: memory failure (the card image could not be written).
    MemoryFailure,
    /// 6700: wrong length (Lc or Le).
    WrongLength,
    /// 6881: logical channel not supported.
    LogicalChannelNotSupported,
    /// 6882: secure messaging not supported.
    SecureMessagingNotSupported,
    /// 6883: last command of the chain expected.
    LastCommandOfChainExpected,
    /// 6884: command chaining not supported (or the chain is too long).
    ChainingNotSupported,
    /// 6982: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// 6983: authentication method blocked.
    AuthenticationBlocked,
    /// 6984: reference data not usable.
    ReferenceDataNotUsable,
    /// 6985: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// 6986: command not allowed (no current EF).
    CommandNotAllowed,
    /// 6A80: incorrect parameters in the command data field.
    WrongData,
    /// 6A81: function not supported.
    FunctionNotSupported,
    /// 6A82: file or application not found.
    FileNotFound,
    /// 6A84: not enough memory space in the file.
    NotEnoughMemory,
    /// 6A86: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// 6A88: referenced data or reference data not found.
    ReferencedDataNotFound,
    /// 6A89: file already exists.
    FileAlreadyExists,
    /// 6B00: wrong parameters P1-P2 (offset outside the EF).
    WrongP1P2,
    /// 6Cxx: wrong Le; xx is the exact length available.
    WrongLe(u8),
    /// 6D00: instruction code not supported or invalid.
    InsNotSupported,
    /// 6E00: class not supported.
    ClaNotSupported,
    /// 6F00: no precise diagnosis (an internal error; never expected).
    Unknown,
}

impl Status {
    /// The two status bytes as one big-endian number, e.g. `0x6A82`.
    pub const fn sw(self) -> u16 {
        match self {
            Status::Success => 0x9000,
            Status::BytesRemaining(n) => 0x6100 | n as u16,
            Status::DataMayBeCorrupted => 0x6281,
            Status::TriesLeft(n) => 0x63C0 | (if n > 15 { 15 } else { n }) as u16,
            Status::MemoryFailure => 0x6581,
            Status::WrongLength => 0x6700,
            Status::LogicalChannelNotSupported => 0x6881,
            Status::SecureMessagingNotSupported => 0x6882,
            Status::LastCommandOfChainExpected => 0x6883,
            Status::ChainingNotSupported => 0x6884,
            Status::SecurityStatusNotSatisfied => 0x6982,
            Status::AuthenticationBlocked => 0x6983,
            Status::ReferenceDataNotUsable => 0x6984,
            Status::ConditionsNotSatisfied => 0x6985,
            Status::CommandNotAllowed => 0x6986,
            Status::WrongData => 0x6A80,
            Status::FunctionNotSupported => 0x6A81,
            Status::FileNotFound => 0x6A82,
            Status::NotEnoughMemory => 0x6A84,
            Status::IncorrectP1P2 => 0x6A86,
            Status::ReferencedDataNotFound => 0x6A88,
            Status::FileAlreadyExists => 0x6A89,
            Status::WrongP1P2 => 0x6B00,
            Status::WrongLe(n) => 0x6C00 | n as u16,
            Status::InsNotSupported => 0x6D00,
            Status::ClaNotSupported => 0x6E00,
            Status::Unknown => 0x6F00,
        }
    }

    /// SW1 and SW2 as two bytes.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.sw().to_be_bytes()
    }

    /// The status for a word read off the wire, if it is one this card uses.
    pub fn from_sw(sw: u16) -> Option<Status> {
        let [sw1, sw2] = sw.to_be_bytes();
        Some(match sw1 {
            0x61 => Status::BytesRemaining(sw2),
            0x6C => Status::WrongLe(sw2),
            0x63 if sw2 & 0xF0 == 0xC0 => Status::TriesLeft(sw2 & 0x0F),
            _ => {
                return ALL_FIXED.iter().copied().find(|s| s.sw() == sw);
            }
        })
    }
}

const ALL_FIXED: [Status; 24] = [
    Status::Success,
    Status::DataMayBeCorrupted,
    Status::MemoryFailure,
    Status::WrongLength,
    Status::LogicalChannelNotSupported,
    Status::SecureMessagingNotSupported,
    Status::LastCommandOfChainExpected,
    Status::ChainingNotSupported,
    Status::SecurityStatusNotSatisfied,
    Status::AuthenticationBlocked,
    Status::ReferenceDataNotUsable,
    Status::ConditionsNotSatisfied,
    Status::CommandNotAllowed,
    Status::WrongData,
    Status::FunctionNotSupported,
    Status::FileNotFound,
    Status::NotEnoughMemory,
    Status::IncorrectP1P2,
    Status::ReferencedDataNotFound,
    Status::FileAlreadyExists,
    Status::WrongP1P2,
    Status::InsNotSupported,
    Status::ClaNotSupported,
    Status::Unknown,
];

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.sw())
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixed_word_round_trips() {
        for s in ALL_FIXED {
            assert_eq!(Status::from_sw(s.sw()), Some(s), "{s:?}");
        }
        assert_eq!(Status::from_sw(0x63C2), Some(Status::TriesLeft(2)));
        assert_eq!(Status::from_sw(0x6110), Some(Status::BytesRemaining(0x10)));
        assert_eq!(Status::from_sw(0x6C05), Some(Status::WrongLe(5)));
        assert_eq!(Status::from_sw(0x1234), None);
    }

    #[test]
    fn words_match_iso7816() {
        assert_eq!(Status::WrongLength.sw(), 0x6700);
        assert_eq!(Status::ClaNotSupported.sw(), 0x6E00);
        assert_eq!(Status::InsNotSupported.sw(), 0x6D00);
        assert_eq!(Status::IncorrectP1P2.sw(), 0x6A86);
        assert_eq!(Status::WrongData.sw(), 0x6A80);
        assert_eq!(Status::SecurityStatusNotSatisfied.sw(), 0x6982);
        assert_eq!(Status::AuthenticationBlocked.sw(), 0x6983);
        assert_eq!(Status::TriesLeft(3).sw(), 0x63C3);
        assert_eq!(Status::TriesLeft(200).sw(), 0x63CF);
        assert_eq!(Status::FileNotFound.sw(), 0x6A82);
        assert_eq!(Status::ReferencedDataNotFound.sw(), 0x6A88);
        assert_eq!(Status::ConditionsNotSatisfied.sw(), 0x6985);
        assert_eq!(Status::NotEnoughMemory.sw(), 0x6A84);
        assert_eq!(Status::MemoryFailure.sw(), 0x6581);
        assert_eq!(Status::Success.to_bytes(), [0x90, 0x00]);
    }
}
