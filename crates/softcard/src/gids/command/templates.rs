//! The templates inside GIDS commands, read at parse time: the FCP of CREATE FILE, the
//! application's own data objects (GET and PUT DATA 3FFF), an imported RSA key and the
//! GENERAL AUTHENTICATE template.

use super::types::{ADMIN_KEY_REF, AuthStep, DoSelector, PinStatusDo};
use crate::{
    Status,
    crypto::{KeyMaterial, trim_leading_zeros},
    tlv,
};

const FILE_TYPE_KEY: u8 = 0x18;
const FILE_TYPE_BER_TLV: u8 = 0x39;

/// What a CREATE FILE's FCP describes.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::gids) enum NewFile {
    /// A data object EF with its read and write conditions.
    Ef { fid: u16, read: u8, write: u8 },
    /// A key file with the algorithm references of its templates.
    Key { kid: u8, algorithms: Vec<u8> },
    /// The administrator key file (B080).
    AdminKey,
}

/// What a GET DATA 3FFF asks for.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::gids) enum AppletRead {
    /// `5C 7F71` (or 7F72): the PIN's tries.
    PinStatus(PinStatusDo),
    /// `70 { 84 kid, A5 { 7F49 } }`: the public key of a key file.
    PublicKey(u8),
}

/// What a PUT DATA 3FFF `70 { 84 kid, A5 { ... } }` writes.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::gids) enum AppletWrite<'a> {
    /// kid 80, `A5 { 87 key, ... }`: a new administrator key.
    AdminKey(&'a [u8]),
    /// kid 81 and up, `A5 { 87 { 30 { RSA private key } } }`: an RSA key into a key file.
    ImportKey { kid: u8, material: KeyMaterial },
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
        (FILE_TYPE_KEY, 0xB0) if lo == ADMIN_KEY_REF => Ok(NewFile::AdminKey),
        (FILE_TYPE_KEY, 0xB0) if lo > ADMIN_KEY_REF => {
            let algorithms = algorithms(tlv::find(body, 0xA5)?.unwrap_or_default())?;
            Ok(NewFile::Key {
                kid: lo,
                algorithms,
            })
        }
        _ => Err(Status::WrongData),
    }
}

/// `5C tag`: one data object (one to three tag bytes) or, with `5C 00`, all of them.
pub(super) fn do_selector(data: &[u8]) -> Result<DoSelector, Status> {
    match tlv::expect_single(data, 0x5C)? {
        [] => Ok(DoSelector::All),
        tag @ [_, ..] if tag.len() <= 3 => Ok(DoSelector::One(
            tag.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)),
        )),
        _ => Err(Status::WrongData),
    }
}

/// GET DATA 3FFF: `5C 7F71` alone (6A88 for another tag), or `70 { 84 kid, A5 ... }`.
pub(super) fn applet_read(data: &[u8]) -> Result<AppletRead, Status> {
    match tlv::parse_one(data)? {
        (
            tlv::Tlv {
                tag: 0x5C,
                value: [0x7F, lo @ (0x71 | 0x72)],
            },
            [],
        ) => Ok(AppletRead::PinStatus(if *lo == 0x71 {
            PinStatusDo::Pin
        } else {
            PinStatusDo::Alias
        })),
        (tlv::Tlv { tag: 0x5C, .. }, _) => Err(Status::ReferencedDataNotFound),
        _ => match tlv::parse_one(tlv::expect_single(data, 0x70)?)? {
            (
                tlv::Tlv {
                    tag: 0x84,
                    value: [kid],
                },
                [0xA5, ..],
            ) => Ok(AppletRead::PublicKey(*kid)),
            _ => Err(Status::WrongData),
        },
    }
}

/// PUT DATA 3FFF `70 { 84 kid, A5 { ... } }`.
pub(super) fn applet_write(data: &[u8]) -> Result<AppletWrite<'_>, Status> {
    let body = tlv::expect_single(data, 0x70)?;
    let kid = match tlv::find(body, 0x84)? {
        Some([kid]) => *kid,
        _ => return Err(Status::WrongData),
    };
    let template = tlv::find(body, 0xA5)?.ok_or(Status::WrongData)?;
    if kid == ADMIN_KEY_REF {
        let key = tlv::find(template, 0x87)?.ok_or(Status::WrongData)?;
        Ok(AppletWrite::AdminKey(key))
    } else {
        let material = rsa_material(template)?;
        Ok(AppletWrite::ImportKey { kid, material })
    }
}

/// Reads the RSA key of an import: `87 { 30 { version, n, e, d, p, q, dP, dQ, qInv } }`.
fn rsa_material(template: &[u8]) -> Result<KeyMaterial, Status> {
    let value = tlv::find(template, 0x87)?.ok_or(Status::WrongData)?;
    let seq = tlv::expect_single(value, 0x30)?;
    let ints = tlv::iter(seq)
        .map(|t| {
            t.map_err(Status::from).and_then(|t| {
                if t.tag == 0x02 {
                    Ok(t.value)
                } else {
                    Err(Status::WrongData)
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let strip = |int: &[u8]| trim_leading_zeros(int).to_vec();
    match ints.as_slice() {
        [_version, n, e, d, p, q, ..] => Ok(KeyMaterial::Rsa {
            n: strip(n),
            e: strip(e),
            d: strip(d),
            p: strip(p),
            q: strip(q),
        }),
        _ => Err(Status::WrongData),
    }
}

/// GENERAL AUTHENTICATE `7C { 81 challenge | 82 response }`: `81` wins when both are there.
pub(super) fn auth_step(data: &[u8]) -> Result<AuthStep<'_>, Status> {
    let template = tlv::expect_single(data, 0x7C)?;
    if let Some(host) = tlv::find(template, 0x81)? {
        return Ok(match host {
            [] => AuthStep::ExternalChallenge,
            _ => host
                .try_into()
                .map_or(AuthStep::BadChallenge, AuthStep::MutualChallenge),
        });
    }
    let response = tlv::find(template, 0x82)?.ok_or(Status::WrongData)?;
    Ok(AuthStep::Response(response))
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

    #[test]
    fn import_template_is_read() {
        let mut seq = Vec::new();
        for int in [
            &[0u8][..],
            &[0, 0xC1],
            &[1, 0, 1],
            &[5],
            &[7],
            &[0, 11],
            &[1],
            &[2],
            &[3],
        ] {
            tlv::write(&mut seq, 0x02, int);
        }
        let template = tlv::encode(0x87, &tlv::encode(0x30, &seq));
        match &rsa_material(&template).unwrap() {
            KeyMaterial::Rsa { n, e, q, .. } => assert_eq!(
                (&n[..], &e[..], &q[..]),
                (&[0xC1][..], &[1, 0, 1][..], &[11][..])
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            rsa_material(&tlv::encode(0x87, &[0x30, 0])).err(),
            Some(Status::WrongData)
        );
    }
}
