//! The file model: BER-TLV EFs of data objects (GET DATA / PUT DATA), key files, CREATE
//! FILE, ACTIVATE FILE, DELETE FILE and SELECT by file identifier (GIDS specification v2.0,
//! file system).

use std::collections::BTreeMap;

use super::command::{AlgorithmRef, DataFile, DoSelector, FileId, NewFile};
use super::minidriver::{CARDAPPS_DO, CARDCF_DO, CMAPFILE_DO, EVERYONE_READ_USER_WRITE_EF};
use super::state::{
    ADMIN, Current, Ef, KeyFile, MAX_CERT_DOS, MAX_DO_LEN, MAX_KEYS, State, USER_OR_ADMIN, Volatile,
};
use crate::{Status, tlv};

/// Whether a key file's FCP has a control reference template `tag` (B6 signature, B8
/// confidentiality) with the algorithm reference `algorithm`: the uses a key may be put
/// to are the ones its file was created with.
pub(super) fn key_permits(fcp: &[u8], tag: u32, algorithm: AlgorithmRef) -> bool {
    let templates = tlv::expect_single(fcp, 0x62)
        .ok()
        .and_then(|body| tlv::find(body, 0xA5).ok().flatten())
        .unwrap_or_default();
    tlv::iter(templates).any(|crt| {
        crt.is_ok_and(|crt| {
            crt.tag == tag && matches!(tlv::find(crt.value, 0x80), Ok(Some([a])) if AlgorithmRef(*a) == algorithm)
        })
    })
}

/// CREATE FILE: the new file becomes the current one.
pub(super) fn create(
    state: &mut State,
    v: &mut Volatile,
    file: NewFile,
    fcp: &[u8],
) -> Result<(), Status> {
    match file {
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
    file: FileId,
    fcp: bool,
) -> Result<Vec<u8>, Status> {
    let (current, stored) = match file {
        FileId::Application => (Current::Application, Vec::new()),
        FileId::Ef(fid) => (Current::Ef(fid), state.ef(fid)?.fcp.clone()),
        FileId::AdminKey if state.admin_file => (Current::AdminKey, Vec::new()),
        FileId::AdminKey => return Err(Status::FileNotFound),
        FileId::Key(kid) => (
            Current::Key(kid),
            state
                .keys
                .get(&kid)
                .ok_or(Status::FileNotFound)?
                .fcp
                .clone(),
        ),
    };
    v.current = Some(current);
    Ok(if fcp { stored } else { Vec::new() })
}

/// DELETE FILE of the file named or the current one.
pub(super) fn delete(
    state: &mut State,
    v: &mut Volatile,
    file: Option<FileId>,
) -> Result<(), Status> {
    let target = match file {
        None => v.current.ok_or(Status::CommandNotAllowed)?,
        Some(FileId::Ef(fid)) => Current::Ef(fid),
        Some(FileId::Key(kid)) => Current::Key(kid),
        // The parser names no other file to delete.
        Some(FileId::Application | FileId::AdminKey) => return Err(Status::FileNotFound),
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

fn resolve(v: &Volatile, file: DataFile) -> Result<u16, Status> {
    match file {
        DataFile::Current => match v.current {
            Some(Current::Ef(fid)) => Ok(fid),
            _ => Err(Status::CommandNotAllowed),
        },
        DataFile::Fid(fid) => Ok(fid),
    }
}

/// GET DATA from an EF: `5C tag` names one DO (answered as a whole TLV), `5C 00` all.
pub(super) fn get_data(
    state: &State,
    v: &mut Volatile,
    file: DataFile,
    select: DoSelector,
) -> Result<Vec<u8>, Status> {
    let fid = resolve(v, file)?;
    let ef = state.ef(fid)?;
    state.require(ef.read, v)?;
    v.current = Some(Current::Ef(fid));
    let DoSelector::One(tag) = select else {
        let mut out = Vec::new();
        ef.dos
            .iter()
            .for_each(|(t, val)| tlv::write(&mut out, *t, val));
        return Ok(out);
    };
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
    file: DataFile,
    items: Vec<tlv::Tlv<'_>>,
) -> Result<(), Status> {
    let fid = resolve(v, file)?;
    let allowed = {
        let ef = state.ef(fid)?;
        state.allows(ef.write, v)
    };
    if !allowed {
        return Err(Status::SecurityStatusNotSatisfied);
    }
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
