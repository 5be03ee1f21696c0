//! GIDS commands: each [`Command`] becomes one [`GidsCommand`] before anything runs, and a
//! malformed one becomes its exact status word (GIDS specification v2.0, card commands).
//! Executors see typed files, references and templates, never P1-P2 bytes or TLV.

mod templates;
#[cfg(test)]
mod tests;
mod types;

pub(super) use templates::{AppletRead, AppletWrite, NewFile};
pub(super) use types::{
    AlgorithmRef, AuthKey, AuthStep, DataFile, DoSelector, FileId, PinStatusDo, Scheme, UserPin,
};

use crate::{Command, Status, tlv};
use types::ADMIN_KEY_REF;

/// What a security environment is set up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SecOp {
    /// MSE SET with the digital signature template (B6).
    Sign,
    /// MSE SET with the confidentiality template (B8).
    Decipher,
}

/// One GIDS command with its parameters decoded.
#[derive(Debug)]
pub(super) enum GidsCommand<'a> {
    /// SELECT by file identifier (A4, P1 00); no identifier selects the application DF.
    SelectFile { file: FileId, fcp: bool },
    /// GET DATA (CB) 3FFF: the application's own data objects.
    GetAppletData(AppletRead),
    /// GET DATA (CB) from an EF.
    GetData { file: DataFile, select: DoSelector },
    /// PUT DATA (DB) 3FFF: a key or the administrator key.
    PutAppletData(AppletWrite<'a>),
    /// PUT DATA (DB) into an EF: data object TLVs.
    PutData {
        file: DataFile,
        items: Vec<tlv::Tlv<'a>>,
    },
    /// CREATE FILE (E0) with its FCP, as read and as sent (kept in the file).
    CreateFile { file: NewFile, fcp: &'a [u8] },
    /// ACTIVATE FILE (44) of the current file.
    Activate,
    /// DELETE FILE (E4) of the current file (`None`) or the one named.
    DeleteFile { file: Option<FileId> },
    /// VERIFY (20) with a PIN, or without one to ask the status.
    Verify {
        pin_ref: UserPin,
        pin: Option<&'a [u8]>,
    },
    /// VERIFY with P2 82: forget every authentication.
    Logout,
    /// CHANGE REFERENCE DATA (24), P1 00: old value then new value.
    ChangePin {
        pin_ref: UserPin,
        old_and_new: &'a [u8],
    },
    /// CHANGE REFERENCE DATA (24), P1 01: set the value (initialization, or after VERIFY).
    SetPin { pin_ref: UserPin, new: &'a [u8] },
    /// RESET RETRY COUNTER (2C), P1 02: a new PIN after administrator authentication.
    ResetRetryCounter { pin_ref: UserPin, new: &'a [u8] },
    /// MSE SET for a signature or a decipherment with an RSA key.
    MseKey {
        op: SecOp,
        algorithm: AlgorithmRef,
        key: u8,
    },
    /// MSE SET selecting the administrator key for (mutual or external) authentication.
    MseAdmin { key: AuthKey },
    /// GENERAL AUTHENTICATE (87): one step of the administrator key's authentication.
    GeneralAuthenticate(AuthStep<'a>),
    /// GENERATE ASYMMETRIC KEY PAIR (47).
    Generate {
        algorithm: AlgorithmRef,
        key: u8,
        want_public: bool,
    },
    /// PSO: COMPUTE DIGITAL SIGNATURE (2A 9E 9A).
    Sign { input: &'a [u8] },
    /// PSO: DECIPHER (2A 80 86).
    Decipher { input: &'a [u8] },
}

fn require_data<'a>(cmd: &Command<'a>) -> Result<&'a [u8], Status> {
    if cmd.data.is_empty() {
        Err(Status::WrongLength)
    } else {
        Ok(cmd.data)
    }
}

/// The value of `tag` in `input`, which must hold exactly one byte.
fn byte_of(input: &[u8], tag: u32) -> Result<Option<u8>, Status> {
    match tlv::find(input, tag)? {
        None => Ok(None),
        Some([b]) => Ok(Some(*b)),
        Some(_) => Err(Status::WrongData),
    }
}

fn parse_mse<'a>(cmd: &Command<'a>) -> Result<GidsCommand<'a>, Status> {
    let data = require_data(cmd)?;
    match (cmd.p1, cmd.p2) {
        (0x41, 0xB6 | 0xB8) => {
            let op = if cmd.p2 == 0xB6 {
                SecOp::Sign
            } else {
                SecOp::Decipher
            };
            let algorithm = AlgorithmRef(byte_of(data, 0x80)?.unwrap_or(0));
            let key = byte_of(data, 0x84)?.ok_or(Status::WrongData)?;
            Ok(GidsCommand::MseKey { op, algorithm, key })
        }
        (0x81 | 0xC1, 0xA4) => {
            let key = match byte_of(data, 0x83)?.ok_or(Status::WrongData)? {
                ADMIN_KEY_REF => AuthKey::Admin,
                _ => AuthKey::Unknown,
            };
            Ok(GidsCommand::MseAdmin { key })
        }
        _ => Err(Status::IncorrectP1P2),
    }
}

fn parse_generate<'a>(cmd: &Command<'a>) -> Result<GidsCommand<'a>, Status> {
    if cmd.p1p2() != 0 {
        return Err(Status::IncorrectP1P2);
    }
    let crt = tlv::expect_single(require_data(cmd)?, 0xAC)?;
    let algorithm = AlgorithmRef(byte_of(crt, 0x80)?.ok_or(Status::WrongData)?);
    let key = byte_of(crt, 0x83)?.ok_or(Status::WrongData)?;
    Ok(GidsCommand::Generate {
        algorithm,
        key,
        want_public: cmd.le.is_some(),
    })
}

/// The file a SELECT or DELETE FILE names (none: 6A82 outside the file system).
fn fid_of(data: &[u8]) -> Result<Option<FileId>, Status> {
    match data {
        [] => Ok(None),
        [hi, lo] => FileId::parse(u16::from_be_bytes([*hi, *lo])).map(Some),
        _ => Err(Status::WrongLength),
    }
}

/// The EF of GET DATA and PUT DATA (P1-P2 other than 3FFF).
fn data_file(p1p2: u16) -> DataFile {
    match p1p2 {
        0x0000 => DataFile::Current,
        fid => DataFile::Fid(fid),
    }
}

/// DELETE FILE: only an EF or a key file (kid 81 and up) is named, else 6A82.
fn deletable(data: &[u8]) -> Result<Option<FileId>, Status> {
    match fid_of(data)? {
        file @ (None | Some(FileId::Ef(_))) => Ok(file),
        Some(FileId::Key(kid)) if kid > ADMIN_KEY_REF => Ok(Some(FileId::Key(kid))),
        Some(_) => Err(Status::FileNotFound),
    }
}

impl<'a> TryFrom<&Command<'a>> for GidsCommand<'a> {
    type Error = Status;

    fn try_from(cmd: &Command<'a>) -> Result<Self, Status> {
        if cmd.cla != 0x00 {
            return Err(Status::ClaNotSupported);
        }
        let data = cmd.data;
        Ok(match cmd.ins {
            0xA4 => match cmd.p1 {
                0x00 if cmd.p2 & !0x0C == 0 => GidsCommand::SelectFile {
                    file: fid_of(data)?.unwrap_or(FileId::Application),
                    fcp: cmd.p2 & 0x0C != 0x0C,
                },
                0x00 => return Err(Status::IncorrectP1P2),
                _ => return Err(Status::FunctionNotSupported),
            },
            0xCB if cmd.p1p2() == 0x3FFF => {
                GidsCommand::GetAppletData(templates::applet_read(require_data(cmd)?)?)
            }
            0xCB => GidsCommand::GetData {
                file: data_file(cmd.p1p2()),
                select: templates::do_selector(require_data(cmd)?)?,
            },
            0xDB if cmd.p1p2() == 0x3FFF => {
                GidsCommand::PutAppletData(templates::applet_write(require_data(cmd)?)?)
            }
            0xDB => GidsCommand::PutData {
                file: data_file(cmd.p1p2()),
                items: tlv::iter(require_data(cmd)?).collect::<Result<_, _>>()?,
            },
            0xE0 if cmd.p1p2() == 0 => {
                let fcp = require_data(cmd)?;
                GidsCommand::CreateFile {
                    file: templates::parse_fcp(fcp)?,
                    fcp,
                }
            }
            0x44 if cmd.p1p2() == 0 => GidsCommand::Activate,
            0xE4 if cmd.p1p2() == 0 => GidsCommand::DeleteFile {
                file: deletable(data)?,
            },
            0xE0 | 0x44 | 0xE4 => return Err(Status::IncorrectP1P2),
            0x20 => match (cmd.p1, cmd.p2) {
                (0x00, 0x82) => GidsCommand::Logout,
                (0x00, p2) => GidsCommand::Verify {
                    pin_ref: UserPin::parse(p2)?,
                    pin: (!data.is_empty()).then_some(data),
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x24 => match cmd.p1 {
                0x00 => GidsCommand::ChangePin {
                    old_and_new: require_data(cmd)?,
                    pin_ref: UserPin::parse(cmd.p2)?,
                },
                0x01 => GidsCommand::SetPin {
                    new: require_data(cmd)?,
                    pin_ref: UserPin::parse(cmd.p2)?,
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x2C => match cmd.p1 {
                0x02 => GidsCommand::ResetRetryCounter {
                    new: require_data(cmd)?,
                    pin_ref: UserPin::parse(cmd.p2)?,
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x22 => parse_mse(cmd)?,
            0x87 if cmd.p1p2() == 0 => {
                GidsCommand::GeneralAuthenticate(templates::auth_step(require_data(cmd)?)?)
            }
            0x87 => return Err(Status::IncorrectP1P2),
            0x47 => parse_generate(cmd)?,
            0x2A => match (cmd.p1, cmd.p2) {
                (0x9E, 0x9A) => GidsCommand::Sign {
                    input: require_data(cmd)?,
                },
                (0x80, 0x86) => GidsCommand::Decipher {
                    input: require_data(cmd)?,
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            _ => return Err(Status::InsNotSupported),
        })
    }
}
