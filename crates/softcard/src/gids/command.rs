//! GIDS commands: each [`Command`] becomes one [`GidsCommand`] before anything runs, and a
//! malformed one becomes its exact status word (GIDS specification v2.0, card commands).

use crate::{Command, Status};

/// The PIN's key reference.
pub(super) const PIN_REF: u8 = 0x80;
/// The PUK's key reference.
pub(super) const PUK_REF: u8 = 0x81;
/// The administrator key's reference.
pub(super) const ADMIN_KEY_REF: u8 = 0x80;

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
    /// SELECT by file identifier (A4, P1 00); `None` selects the application DF.
    SelectFile { fid: Option<u16>, fcp: bool },
    /// GET DATA (CB) from an EF (or 3FFF for the application's own objects).
    GetData { file: u16, data: &'a [u8] },
    /// PUT DATA (DB) into an EF (0000: the current one; 3FFF: keys).
    PutData { file: u16, data: &'a [u8] },
    /// CREATE FILE (E0) with its FCP.
    CreateFile { fcp: &'a [u8] },
    /// ACTIVATE FILE (44) of the current file.
    Activate,
    /// DELETE FILE (E4) of the current file or the one named.
    DeleteFile { fid: Option<u16> },
    /// VERIFY (20) with a PIN, or without one to ask the status.
    Verify {
        reference: u8,
        pin: Option<&'a [u8]>,
    },
    /// VERIFY with P2 82: forget every authentication.
    Logout,
    /// CHANGE REFERENCE DATA (24), P1 00: old value then new value.
    ChangePin {
        reference: u8,
        old_and_new: &'a [u8],
    },
    /// CHANGE REFERENCE DATA (24), P1 01: set the value (initialization, or after VERIFY).
    SetPin { reference: u8, new: &'a [u8] },
    /// RESET RETRY COUNTER (2C), P1 02: a new PIN after administrator authentication.
    ResetRetryCounter { reference: u8, new: &'a [u8] },
    /// MSE SET for a signature or a decipherment with an RSA key.
    MseKey { op: SecOp, algorithm: u8, key: u8 },
    /// MSE SET selecting the administrator key for (mutual or external) authentication.
    MseAdmin { key: u8 },
    /// GENERAL AUTHENTICATE (87) with its dynamic authentication template content.
    GeneralAuthenticate { template: &'a [u8] },
    /// GENERATE ASYMMETRIC KEY PAIR (47).
    Generate {
        algorithm: u8,
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
    match crate::tlv::find(input, tag)? {
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
            let algorithm = byte_of(data, 0x80)?.unwrap_or(0);
            let key = byte_of(data, 0x84)?.ok_or(Status::WrongData)?;
            Ok(GidsCommand::MseKey { op, algorithm, key })
        }
        (0x81 | 0xC1, 0xA4) => {
            let key = byte_of(data, 0x83)?.ok_or(Status::WrongData)?;
            Ok(GidsCommand::MseAdmin { key })
        }
        _ => Err(Status::IncorrectP1P2),
    }
}

fn parse_generate<'a>(cmd: &Command<'a>) -> Result<GidsCommand<'a>, Status> {
    if cmd.p1p2() != 0 {
        return Err(Status::IncorrectP1P2);
    }
    let crt = crate::tlv::expect_single(require_data(cmd)?, 0xAC)?;
    let algorithm = byte_of(crt, 0x80)?.ok_or(Status::WrongData)?;
    let key = byte_of(crt, 0x83)?.ok_or(Status::WrongData)?;
    Ok(GidsCommand::Generate {
        algorithm,
        key,
        want_public: cmd.le.is_some(),
    })
}

fn fid_of(data: &[u8]) -> Result<Option<u16>, Status> {
    match data {
        [] => Ok(None),
        [hi, lo] => Ok(Some(u16::from_be_bytes([*hi, *lo]))),
        _ => Err(Status::WrongLength),
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
                0x00 if cmd.p2 & !0x0C == 0 => {
                    let fid = fid_of(data)?.filter(|f| *f != 0x3FFF);
                    GidsCommand::SelectFile {
                        fid,
                        fcp: cmd.p2 & 0x0C != 0x0C,
                    }
                }
                0x00 => return Err(Status::IncorrectP1P2),
                _ => return Err(Status::FunctionNotSupported),
            },
            0xCB => GidsCommand::GetData {
                file: cmd.p1p2(),
                data: require_data(cmd)?,
            },
            0xDB => GidsCommand::PutData {
                file: cmd.p1p2(),
                data: require_data(cmd)?,
            },
            0xE0 if cmd.p1p2() == 0 => GidsCommand::CreateFile {
                fcp: require_data(cmd)?,
            },
            0x44 if cmd.p1p2() == 0 => GidsCommand::Activate,
            0xE4 if cmd.p1p2() == 0 => GidsCommand::DeleteFile { fid: fid_of(data)? },
            0xE0 | 0x44 | 0xE4 => return Err(Status::IncorrectP1P2),
            0x20 => match (cmd.p1, cmd.p2) {
                (0x00, 0x82) => GidsCommand::Logout,
                (0x00, reference) => GidsCommand::Verify {
                    reference,
                    pin: (!data.is_empty()).then_some(data),
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x24 => match cmd.p1 {
                0x00 => GidsCommand::ChangePin {
                    reference: cmd.p2,
                    old_and_new: require_data(cmd)?,
                },
                0x01 => GidsCommand::SetPin {
                    reference: cmd.p2,
                    new: require_data(cmd)?,
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x2C => match cmd.p1 {
                0x02 => GidsCommand::ResetRetryCounter {
                    reference: cmd.p2,
                    new: require_data(cmd)?,
                },
                _ => return Err(Status::IncorrectP1P2),
            },
            0x22 => parse_mse(cmd)?,
            0x87 if cmd.p1p2() == 0 => GidsCommand::GeneralAuthenticate {
                template: crate::tlv::expect_single(require_data(cmd)?, 0x7C)?,
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<GidsCommand<'_>, Status> {
        let cmd = Command::parse(bytes).unwrap();
        GidsCommand::try_from(&cmd)
    }

    #[test]
    fn commands_as_clients_send_them() {
        assert!(matches!(
            parse(&[0, 0x22, 0x41, 0xB6, 6, 0x80, 1, 0x57, 0x84, 1, 0x81]),
            Ok(GidsCommand::MseKey {
                op: SecOp::Sign,
                algorithm: 0x57,
                key: 0x81
            })
        ));
        assert!(matches!(
            parse(&[0, 0x22, 0xC1, 0xA4, 3, 0x83, 1, 0x80]),
            Ok(GidsCommand::MseAdmin { key: 0x80 })
        ));
        assert!(matches!(
            parse(&[0, 0x47, 0, 0, 8, 0xAC, 6, 0x80, 1, 7, 0x83, 1, 0x81]),
            Ok(GidsCommand::Generate {
                algorithm: 7,
                key: 0x81,
                want_public: false
            })
        ));
        assert!(matches!(
            parse(&[0, 0x20, 0, 0x82]),
            Ok(GidsCommand::Logout)
        ));
        assert!(matches!(
            parse(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0xFF]),
            Ok(GidsCommand::SelectFile {
                fid: None,
                fcp: false
            })
        ));
    }

    #[test]
    fn malformed_commands_get_their_status() {
        assert_eq!(
            parse(&[0x80, 0x20, 0, 0x80]).err(),
            Some(Status::ClaNotSupported)
        );
        assert_eq!(
            parse(&[0, 0x20, 1, 0x80]).err(),
            Some(Status::IncorrectP1P2)
        );
        assert_eq!(
            parse(&[0, 0x2A, 0x9E, 0x9B, 1, 0]).err(),
            Some(Status::IncorrectP1P2)
        );
        assert_eq!(
            parse(&[0, 0x22, 0x41, 0xB6, 3, 0x80, 1, 0x57]).err(),
            Some(Status::WrongData)
        );
        assert_eq!(
            parse(&[0, 0xCB, 0x3F, 0xFF]).err(),
            Some(Status::WrongLength)
        );
        assert_eq!(
            parse(&[0, 0x87, 0, 0, 2, 0x7D, 0]).err(),
            Some(Status::WrongData)
        );
        assert_eq!(parse(&[0, 0x99, 0, 0]).err(), Some(Status::InsNotSupported));
    }
}
