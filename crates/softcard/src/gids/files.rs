//! The file model: BER-TLV EFs of data objects (GET DATA / PUT DATA), key files, CREATE
//! FILE, ACTIVATE FILE, DELETE FILE and SELECT by file identifier (GIDS specification v2.0,
//! file system).

use std::collections::BTreeMap;

use super::minidriver::{CARDAPPS_DO, CARDCF_DO, CMAPFILE_DO, EVERYONE_READ_USER_WRITE_EF};
use super::state::{
    ADMIN, Current, Ef, KeyFile, MAX_CERT_DOS, MAX_DO_LEN, MAX_KEYS, State, USER_OR_ADMIN, Volatile,
};
use crate::{Status, tlv};

const FILE_TYPE_KEY: u8 = 0x18;
const FILE_TYPE_BER_TLV: u8 = 0x39;

/// What a CREATE FILE's FCP describes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NewFile {
    /// A data object EF with its read and write conditions.
    Ef { fid: u16, read: u8, write: u8 },
    /// A key file with the algorithm references of its templates.
    Key { kid: u8, algorithms: Vec<u8> },
    /// The administrator key file (B080).
    AdminKey,
}

/// Reads the compact security attributes `8C AM SC...`: the SC bytes follow in the order
/// of the AM bits from b7 down to b1; b1 is the read condition and b2 the write one.
fn compact_conditions(value: &[u8]) -> (u8, u8) {
    let Some((&am, mut sc)) = value.split_first() else {
        return (0xFF, 0xFF);
    };
    let (mut read, mut write) = (0xFF, 0xFF);
    for bit in (0..7).rev() {
        if am & (1 << bit) == 0 {
            continue;
        }
        let Some((&c, rest)) = sc.split_first() else {
            break;
        };
        sc = rest;
        match bit {
            0 => read = c,
            1 => write = c,
            _ => {}
        }
    }
    (read, write)
}

/// Collects the algorithm references (tag 80) of the CRTs inside an A5 template.
fn algorithms(template: &[u8]) -> Result<Vec<u8>, Status> {
    let mut out = Vec::new();
    for crt in tlv::iter(template) {
        if let Some([alg]) = tlv::find(crt?.value, 0x80)? {
            out.push(*alg);
        }
    }
    Ok(out)
}

/// Whether a key file's FCP has a control reference template `tag` (B6 signature, B8
/// confidentiality) with the algorithm reference `algorithm`: the uses a key may be put
/// to are the ones its file was created with.
pub(super) fn key_permits(fcp: &[u8], tag: u32, algorithm: u8) -> bool {
    let templates = tlv::expect_single(fcp, 0x62)
        .ok()
        .and_then(|body| tlv::find(body, 0xA5).ok().flatten())
        .unwrap_or_default();
    tlv::iter(templates).any(|crt| {
        crt.is_ok_and(|crt| {
            crt.tag == tag && matches!(tlv::find(crt.value, 0x80), Ok(Some([a])) if *a == algorithm)
        })
    })
}

/// Parses a CREATE FILE FCP (`62 { 82 type, 83 fid, 8C conditions, A5 templates }`).
///
/// # Errors
/// [`Status::WrongData`] (6A80) for an FCP this card cannot create.
pub(super) fn parse_fcp(fcp: &[u8]) -> Result<NewFile, Status> {
    let body = tlv::expect_single(fcp, 0x62)?;
    let kind = tlv::find(body, 0x82)?
        .and_then(|v| v.first().copied())
        .ok_or(Status::WrongData)?;
    let fid = match tlv::find(body, 0x83)? {
        Some([hi, lo]) => u16::from_be_bytes([*hi, *lo]),
        _ => return Err(Status::WrongData),
    };
    let [hi, lo] = fid.to_be_bytes();
    match (kind, hi) {
        (FILE_TYPE_BER_TLV, 0xA0) => {
            let (read, write) = compact_conditions(tlv::find(body, 0x8C)?.unwrap_or_default());
            Ok(NewFile::Ef { fid, read, write })
        }
        (FILE_TYPE_KEY, 0xB0) if lo == 0x80 => Ok(NewFile::AdminKey),
        (FILE_TYPE_KEY, 0xB0) if lo >= 0x81 => {
            let algorithms = algorithms(tlv::find(body, 0xA5)?.unwrap_or_default())?;
            Ok(NewFile::Key {
                kid: lo,
                algorithms,
            })
        }
        _ => Err(Status::WrongData),
    }
}

/// CREATE FILE: the new file becomes the current one.
pub(super) fn create(state: &mut State, v: &mut Volatile, fcp: &[u8]) -> Result<(), Status> {
    match parse_fcp(fcp)? {
        NewFile::Ef { fid, read, write } => {
            state.require(ADMIN, v)?;
            if state.efs.contains_key(&fid) {
                return Err(Status::FileAlreadyExists);
            }
            let ef = Ef {
                fcp: fcp.to_vec(),
                read,
                write,
                active: false,
                dos: BTreeMap::new(),
            };
            state.efs.insert(fid, ef);
            v.current = Some(Current::Ef(fid));
        }
        NewFile::Key { kid, algorithms } => {
            state.require(USER_OR_ADMIN, v)?;
            if state.keys.contains_key(&kid) {
                return Err(Status::FileAlreadyExists);
            }
            if state.keys.len() >= MAX_KEYS {
                return Err(Status::NotEnoughMemory);
            }
            let file = KeyFile {
                fcp: fcp.to_vec(),
                algorithms,
                active: false,
                key: None,
            };
            state.keys.insert(kid, file);
            v.current = Some(Current::Key(kid));
        }
        NewFile::AdminKey => {
            state.require(ADMIN, v)?;
            if state.admin_file {
                return Err(Status::FileAlreadyExists);
            }
            state.admin_file = true;
            v.current = Some(Current::AdminKey);
        }
    }
    Ok(())
}

/// ACTIVATE FILE of the current file; activating the application DF ends initialization
/// (6985 without a PIN or an administrator key).
pub(super) fn activate(state: &mut State, v: &Volatile) -> Result<(), Status> {
    match v.current.ok_or(Status::CommandNotAllowed)? {
        Current::Application => {
            // Initialization ends only with a PIN and an administrator key: neither can be
            // created once the card is operational.
            if !state.operational && (state.pin.is_none() || state.admin.is_none()) {
                return Err(Status::ConditionsNotSatisfied);
            }
            state.operational = true;
        }
        Current::Ef(fid) => state.efs.get_mut(&fid).ok_or(Status::FileNotFound)?.active = true,
        Current::Key(kid) => state.keys.get_mut(&kid).ok_or(Status::FileNotFound)?.active = true,
        Current::AdminKey => {}
    }
    Ok(())
}

/// SELECT by file identifier; returns the FCP when asked.
pub(super) fn select(
    state: &State,
    v: &mut Volatile,
    fid: Option<u16>,
    fcp: bool,
) -> Result<Vec<u8>, Status> {
    let (current, stored) = match fid {
        None => (Current::Application, Vec::new()),
        Some(fid) => match fid.to_be_bytes() {
            [0xA0, _] => (Current::Ef(fid), state.ef(fid)?.fcp.clone()),
            [0xB0, 0x80] if state.admin_file => (Current::AdminKey, Vec::new()),
            [0xB0, kid] => (
                Current::Key(kid),
                state
                    .keys
                    .get(&kid)
                    .ok_or(Status::FileNotFound)?
                    .fcp
                    .clone(),
            ),
            _ => return Err(Status::FileNotFound),
        },
    };
    v.current = Some(current);
    Ok(if fcp { stored } else { Vec::new() })
}

/// DELETE FILE of the file named or the current one.
pub(super) fn delete(state: &mut State, v: &mut Volatile, fid: Option<u16>) -> Result<(), Status> {
    let target = match fid {
        None => v.current.ok_or(Status::CommandNotAllowed)?,
        Some(fid) => match fid.to_be_bytes() {
            [0xA0, _] => Current::Ef(fid),
            [0xB0, kid] if kid >= 0x81 => Current::Key(kid),
            _ => return Err(Status::FileNotFound),
        },
    };
    match target {
        Current::Key(kid) => {
            state.require(USER_OR_ADMIN, v)?;
            state.keys.remove(&kid).ok_or(Status::FileNotFound)?;
            if v.env.is_some_and(|e| e.key == kid) {
                v.env = None;
            }
        }
        Current::Ef(fid) => {
            state.require(ADMIN, v)?;
            state.efs.remove(&fid).ok_or(Status::FileNotFound)?;
        }
        Current::Application | Current::AdminKey => return Err(Status::CommandNotAllowed),
    }
    v.current = None;
    Ok(())
}

fn resolve(v: &Volatile, file: u16) -> Result<u16, Status> {
    match file {
        0x0000 => match v.current {
            Some(Current::Ef(fid)) => Ok(fid),
            _ => Err(Status::CommandNotAllowed),
        },
        fid => Ok(fid),
    }
}

/// GET DATA from an EF: `5C tag` names one DO (answered as a whole TLV), `5C 00` all.
pub(super) fn get_data(
    state: &State,
    v: &mut Volatile,
    file: u16,
    data: &[u8],
) -> Result<Vec<u8>, Status> {
    let fid = resolve(v, file)?;
    let ef = state.ef(fid)?;
    state.require(ef.read, v)?;
    let tag_bytes = tlv::expect_single(data, 0x5C)?;
    v.current = Some(Current::Ef(fid));
    if tag_bytes.is_empty() {
        let mut out = Vec::new();
        ef.dos
            .iter()
            .for_each(|(t, val)| tlv::write(&mut out, *t, val));
        return Ok(out);
    }
    if tag_bytes.len() > 3 {
        return Err(Status::WrongData);
    }
    let tag = tag_bytes
        .iter()
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    let value = ef.dos.get(&tag).ok_or(Status::ReferencedDataNotFound)?;
    Ok(tlv::encode(tag, value))
}

fn is_minidriver_do(tag: u32) -> bool {
    [CARDAPPS_DO, CARDCF_DO, CMAPFILE_DO]
        .iter()
        .any(|d| u32::from(*d) == tag)
}

/// PUT DATA into an EF: one or more DO TLVs, stored all or none (a DO refused leaves the EF
/// as it was). An empty DO is stored empty; storing an empty DO over an empty one deletes
/// it.
pub(super) fn put_data(
    state: &mut State,
    v: &mut Volatile,
    file: u16,
    data: &[u8],
) -> Result<(), Status> {
    let fid = resolve(v, file)?;
    let allowed = {
        let ef = state.ef(fid)?;
        state.allows(ef.write, v)
    };
    if !allowed {
        return Err(Status::SecurityStatusNotSatisfied);
    }
    let items = tlv::iter(data).collect::<Result<Vec<_>, _>>()?;
    let ef = state.efs.get_mut(&fid).ok_or(Status::FileNotFound)?;
    let mut dos = ef.dos.clone();
    for item in items {
        if item.value.len() > MAX_DO_LEN {
            return Err(Status::NotEnoughMemory);
        }
        match dos.get(&item.tag) {
            Some(old) if old.is_empty() && item.value.is_empty() => {
                dos.remove(&item.tag);
                continue;
            }
            Some(_) => {}
            None if fid == EVERYONE_READ_USER_WRITE_EF && !is_minidriver_do(item.tag) => {
                let certs = dos.keys().filter(|t| !is_minidriver_do(**t)).count();
                if certs >= MAX_CERT_DOS {
                    return Err(Status::NotEnoughMemory);
                }
            }
            None => {}
        }
        dos.insert(item.tag, item.value.to_vec());
    }
    ef.dos = dos;
    v.current = Some(Current::Ef(fid));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fcps_as_gids_tool_sends_them() {
        let ef = [
            0x62, 0x0C, 0x82, 1, 0x39, 0x83, 2, 0xA0, 0x12, 0x8C, 3, 0x03, 0x20, 0x00,
        ];
        assert_eq!(
            parse_fcp(&ef),
            Ok(NewFile::Ef {
                fid: 0xA012,
                read: 0x00,
                write: 0x20
            })
        );
        let admin = [
            0x62, 0x1A, 0x82, 1, 0x18, 0x83, 2, 0xB0, 0x80, 0x8C, 4, 0x87, 0, 0x20, 0xFF, 0xA5,
            0x0B, 0xA4, 9, 0x80, 1, 2, 0x83, 1, 0x80, 0x95, 1, 0xC0,
        ];
        assert_eq!(parse_fcp(&admin), Ok(NewFile::AdminKey));
        let key = [
            0x62, 0x26, 0x82, 1, 0x18, 0x83, 2, 0xB0, 0x82, 0x8C, 5, 0x8F, 0x10, 0x10, 0x10, 0,
            0xA5, 0x16, 0xB6, 9, 0x80, 1, 0x17, 0x83, 1, 0x83, 0x95, 1, 0x40, 0xB6, 9, 0x80, 1,
            0x57, 0x83, 1, 0x83, 0x95, 1, 0x40,
        ];
        assert_eq!(
            parse_fcp(&key),
            Ok(NewFile::Key {
                kid: 0x82,
                algorithms: vec![0x17, 0x57]
            })
        );
        assert_eq!(parse_fcp(&[0x62, 3, 0x82, 1, 0x01]), Err(Status::WrongData));
    }

    #[test]
    fn conditions_follow_the_am_byte() {
        assert_eq!(compact_conditions(&[0x03, 0x30, 0xFF]), (0xFF, 0x30));
        assert_eq!(compact_conditions(&[0x01, 0x00]), (0x00, 0xFF));
        assert_eq!(compact_conditions(&[]), (0xFF, 0xFF));
    }
}
