//! PIV commands: each command APDU becomes one [`PivCommand`] before anything runs, and a
//! malformed one becomes its exact status word (SP 800-73-4 Part 2, section 3). GENERAL
//! AUTHENTICATE, whose template and key reference say what it is, has its own module.

mod authenticate;
#[cfg(test)]
mod tests;

pub use authenticate::{Authenticate, MgmtAlgId, MgmtStep, PrivateOp};

use super::types::{KeyPinPolicy, Slot, TouchPolicy, key_alg_from_id};
use crate::{
    Command, Status,
    crypto::{
        KeyAlgorithm,
        sym::{SymAlg, SymKey},
    },
    tlv,
};

/// PIN references of VERIFY, CHANGE REFERENCE DATA and GET METADATA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRef {
    /// 80: the PIV card application PIN.
    Pin,
    /// 81: the PUK.
    Puk,
}

/// What a VERIFY asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verify<'a> {
    /// No data: is the PIN verified (9000) or how many tries are left (63Cx)?
    Status,
    /// Check this PIN (padding removed).
    Check(&'a [u8]),
    /// P1 = FF: forget the verification.
    Logout,
}

/// The key a GET METADATA names (P2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRef {
    /// 80 or 81: the PIN or the PUK.
    Pin(PinRef),
    /// 9B: the card management key.
    Management,
    /// A key slot (9A, 9C, 9D, 9E, 82..95, F9).
    Slot(Slot),
}

impl KeyRef {
    /// The key reference P2 names; 6A88 for one this card does not have.
    fn parse(p2: u8) -> Result<KeyRef, Status> {
        Ok(match p2 {
            0x80 => KeyRef::Pin(PinRef::Pin),
            0x81 => KeyRef::Pin(PinRef::Puk),
            MANAGEMENT_KEY => KeyRef::Management,
            _ => KeyRef::Slot(Slot::from_ref(p2).ok_or(Status::ReferencedDataNotFound)?),
        })
    }
}

/// The key reference of the card management key.
pub(super) const MANAGEMENT_KEY: u8 = 0x9B;

/// Key generation parameters (template AC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParams {
    /// The slot.
    pub slot: Slot,
    /// The algorithm.
    pub alg: KeyAlgorithm,
    /// The PIN policy if one was given.
    pub pin_policy: Option<KeyPinPolicy>,
    /// The touch policy.
    pub touch: TouchPolicy,
}

/// One PIV command, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PivCommand<'a> {
    /// GET DATA (INS CB) of a data object tag.
    GetData(u32),
    /// PUT DATA (INS DB): store (or with empty content delete) a data object.
    PutData {
        /// The object's tag.
        tag: u32,
        /// Its content.
        content: &'a [u8],
    },
    /// VERIFY (INS 20).
    Verify(Verify<'a>),
    /// CHANGE REFERENCE DATA (INS 24).
    ChangeReference {
        /// PIN or PUK.
        which: PinRef,
        /// The current value (padding removed).
        old: &'a [u8],
        /// The new value (padding removed).
        new: &'a [u8],
    },
    /// RESET RETRY COUNTER (INS 2C).
    ResetRetryCounter {
        /// The PUK.
        puk: &'a [u8],
        /// The new PIN.
        new_pin: &'a [u8],
    },
    /// GENERAL AUTHENTICATE (INS 87).
    Authenticate(Authenticate<'a>),
    /// GENERATE ASYMMETRIC KEY PAIR (INS 47).
    Generate(KeyParams),
    /// Yubico GET VERSION (INS FD).
    GetVersion,
    /// Yubico GET SERIAL (INS F8).
    GetSerial,
    /// Yubico GET METADATA (INS F7) of a key reference.
    GetMetadata(KeyRef),
    /// Yubico IMPORT KEY (INS FE).
    Import {
        /// Slot, algorithm and policies.
        params: KeyParams,
        /// The key's TLVs (01..05 RSA, 06 EC).
        data: &'a [u8],
    },
    /// Yubico SET MANAGEMENT KEY (INS FF).
    SetManagementKey {
        /// The new key, with its algorithm.
        key: SymKey,
        /// P2 = FE: touch required.
        touch: TouchPolicy,
    },
    /// Yubico RESET (INS FB).
    Reset,
    /// Yubico SET PIN RETRIES (INS FA).
    SetPinRetries {
        /// PIN tries (P1).
        pin: u8,
        /// PUK tries (P2).
        puk: u8,
    },
    /// Yubico ATTEST (INS F9) of a slot.
    Attest(Slot),
    /// Yubico MOVE KEY (INS F6, firmware 5.7): the key of `from` into `to`, or with P1 = FF
    /// (DELETE KEY) out of the card. Never the attestation key (6A86).
    MoveKey {
        /// P2: the slot whose key moves.
        from: Slot,
        /// P1: the slot it moves to; `None` deletes it.
        to: Option<Slot>,
    },
}

impl<'a> TryFrom<&Command<'a>> for PivCommand<'a> {
    type Error = Status;

    fn try_from(cmd: &Command<'a>) -> Result<Self, Status> {
        let (p1, p2, data) = (cmd.p1, cmd.p2, cmd.data);
        if cmd.cla & 0x80 != 0 {
            return Err(Status::ClaNotSupported);
        }
        Ok(match cmd.ins {
            0xCB => {
                need_p1p2(cmd, 0x3FFF)?;
                PivCommand::GetData(parse_tag_list(data)?)
            }
            0xDB => {
                need_p1p2(cmd, 0x3FFF)?;
                parse_put_data(data)?
            }
            0x20 => parse_verify(p1, p2, data)?,
            0x24 => {
                let which = match (p1, p2) {
                    (0x00, 0x80) => PinRef::Pin,
                    (0x00, 0x81) => PinRef::Puk,
                    (0x00, _) => return Err(Status::ReferencedDataNotFound),
                    _ => return Err(Status::IncorrectP1P2),
                };
                let (old, new) = two_pins(data)?;
                PivCommand::ChangeReference { which, old, new }
            }
            0x2C => {
                match (p1, p2) {
                    (0x00, 0x80) => {}
                    (0x00, _) => return Err(Status::ReferencedDataNotFound),
                    _ => return Err(Status::IncorrectP1P2),
                }
                let (puk, new_pin) = two_pins(data)?;
                PivCommand::ResetRetryCounter { puk, new_pin }
            }
            0x87 => PivCommand::Authenticate(authenticate::parse(p1, p2, data)?),
            0x47 => {
                if p1 != 0 {
                    return Err(Status::IncorrectP1P2);
                }
                let slot = Slot::from_ref(p2).filter(|s| *s != Slot::Attestation);
                let slot = slot.ok_or(Status::IncorrectP1P2)?;
                let template = tlv::expect_single(data, 0xAC)?;
                let alg = tlv::find(template, 0x80)?.ok_or(Status::WrongData)?;
                let alg = match alg {
                    [id] => key_alg_from_id(*id).ok_or(Status::WrongData)?,
                    _ => return Err(Status::WrongData),
                };
                PivCommand::Generate(policies(slot, alg, template)?)
            }
            0xFD => PivCommand::GetVersion,
            0xF8 => PivCommand::GetSerial,
            0xF7 => {
                if p1 != 0 {
                    return Err(Status::IncorrectP1P2);
                }
                PivCommand::GetMetadata(KeyRef::parse(p2)?)
            }
            0xFE => {
                let slot = Slot::from_ref(p2).ok_or(Status::IncorrectP1P2)?;
                let alg = key_alg_from_id(p1).ok_or(Status::IncorrectP1P2)?;
                PivCommand::Import {
                    params: policies(slot, alg, data)?,
                    data,
                }
            }
            0xFF => {
                let touch = match (p1, p2) {
                    (0xFF, 0xFF) => TouchPolicy::Never,
                    (0xFF, 0xFE) => TouchPolicy::Always,
                    _ => return Err(Status::IncorrectP1P2),
                };
                let (alg, rest) = data.split_first().ok_or(Status::WrongData)?;
                // The legacy identifier 00 names no key to set.
                let alg = SymAlg::from_piv_id(*alg)
                    .filter(|a| a.piv_id() == *alg)
                    .ok_or(Status::WrongData)?;
                let key = tlv::expect_single(rest, 0x9B)?;
                let key = SymKey::from_bytes(alg, key).map_err(|_| Status::WrongData)?;
                PivCommand::SetManagementKey { key, touch }
            }
            0xFB => PivCommand::Reset,
            0xFA => PivCommand::SetPinRetries { pin: p1, puk: p2 },
            0xF9 => PivCommand::Attest(Slot::from_ref(p1).ok_or(Status::IncorrectP1P2)?),
            0xF6 => {
                let slot = |r| {
                    Slot::from_ref(r)
                        .filter(|s| *s != Slot::Attestation)
                        .ok_or(Status::IncorrectP1P2)
                };
                PivCommand::MoveKey {
                    from: slot(p2)?,
                    to: if p1 == 0xFF { None } else { Some(slot(p1)?) },
                }
            }
            _ => return Err(Status::InsNotSupported),
        })
    }
}

fn need_p1p2(cmd: &Command<'_>, p1p2: u16) -> Result<(), Status> {
    if cmd.p1p2() == p1p2 {
        Ok(())
    } else {
        Err(Status::IncorrectP1P2)
    }
}

/// `5C len tag`: the tag of one data object (one or three bytes).
fn parse_tag_list(data: &[u8]) -> Result<u32, Status> {
    let tag = tlv::expect_single(data, 0x5C)?;
    match tag {
        [one] => Ok(u32::from(*one)),
        // The BIT group template 7F61 (SP 800-73-4 Part 1, Table 3).
        [0x7F, 0x61] => Ok(0x7F61),
        [a, b, c] => Ok(u32::from_be_bytes([0, *a, *b, *c])),
        _ => Err(Status::WrongData),
    }
}

fn parse_put_data(data: &[u8]) -> Result<PivCommand<'_>, Status> {
    let (first, rest) = tlv::parse_one(data)?;
    match first.tag {
        0x5C => {
            let tag = parse_tag_list(data.get(..data.len() - rest.len()).unwrap_or_default())?;
            let content = tlv::expect_single(rest, 0x53)?;
            Ok(PivCommand::PutData { tag, content })
        }
        // The discovery object and the BIT group template carry their own tag.
        0x7E | 0x7F61 if rest.is_empty() => Ok(PivCommand::PutData {
            tag: first.tag,
            content: first.value,
        }),
        _ => Err(Status::WrongData),
    }
}

fn parse_verify(p1: u8, p2: u8, data: &[u8]) -> Result<PivCommand<'_>, Status> {
    match p2 {
        0x80 => {}
        0x00 | 0x81 => return Err(Status::ReferencedDataNotFound),
        _ => return Err(Status::IncorrectP1P2),
    }
    Ok(PivCommand::Verify(match (p1, data.is_empty()) {
        (0x00, true) => Verify::Status,
        (0x00, false) => Verify::Check(unpad(data)?),
        (0xFF, true) => Verify::Logout,
        (0xFF, false) => return Err(Status::WrongData),
        _ => return Err(Status::IncorrectP1P2),
    }))
}

/// An 8-byte PIN field without its FF padding.
fn unpad(field: &[u8]) -> Result<&[u8], Status> {
    if field.len() != 8 {
        return Err(Status::WrongData);
    }
    let len = field.iter().position(|b| *b == 0xFF).unwrap_or(field.len());
    let (value, padding) = field.split_at(len);
    if padding.iter().any(|b| *b != 0xFF) {
        return Err(Status::WrongData);
    }
    Ok(value)
}

fn two_pins(data: &[u8]) -> Result<(&[u8], &[u8]), Status> {
    if data.len() != 16 {
        return Err(Status::WrongData);
    }
    let (a, b) = data.split_at(8);
    Ok((unpad(a)?, unpad(b)?))
}

/// The slot, algorithm and the optional policy tags AA and AB of `template`.
fn policies(slot: Slot, alg: KeyAlgorithm, template: &[u8]) -> Result<KeyParams, Status> {
    let byte = |tag| -> Result<Option<u8>, Status> {
        match tlv::find(template, tag)? {
            None => Ok(None),
            Some([b]) => Ok(Some(*b)),
            Some(_) => Err(Status::WrongData),
        }
    };
    let pin_policy = match byte(0xAA)? {
        Some(b) => KeyPinPolicy::from_byte(b)?,
        None => None,
    };
    let touch = TouchPolicy::from_byte(byte(0xAB)?.unwrap_or(0))?;
    Ok(KeyParams {
        slot,
        alg,
        pin_policy,
        touch,
    })
}
