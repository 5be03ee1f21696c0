//! Key containers: the key file of a container, its `cmapfile` record, and the choice of
//! a free one.

use softcard::crypto::PublicKey;
use softcard::gids::minidriver as md;
use softcard::tlv;

use super::{FIRST_KEY, MAX_CONTAINERS, bad};
use crate::client::KeyRequest;
use crate::minidriver;
use crate::transport::exchange;
use crate::{EnrollError, KeySpec, Transport};

/// GET DATA 3FFF `70 { 84 kid, A5 { 7F49 } }`: the public key of a key file.
pub(super) fn read_public(
    t: &mut dyn Transport,
    kid: u8,
) -> Result<Option<PublicKey>, EnrollError> {
    let query = [0x70, 0x08, 0x84, 0x01, kid, 0xA5, 0x03, 0x7F, 0x49, 0x80];
    let r = exchange(t, [0, 0xCB, 0x3F, 0xFF], &query, true)?;
    if matches!(r.sw, 0x6A88 | 0x6A82) {
        return Ok(None);
    }
    let data = r.ok("GET DATA (public key)")?;
    let inner = tlv::expect_single(&data, 0x7F49).map_err(|_| bad("GIDS public key"))?;
    let n = tlv::find(inner, 0x81).ok().flatten();
    let e = tlv::find(inner, 0x82).ok().flatten();
    match (n, e) {
        (Some(n), Some(e)) => Ok(Some(PublicKey::Rsa {
            n: softcard::crypto::trim_leading_zeros(n).to_vec(),
            e: softcard::crypto::trim_leading_zeros(e).to_vec(),
        })),
        _ => Err(bad("GIDS public key")),
    }
}

/// The key file's FCP: type 18, conditions as the minidriver sets them, and the control
/// reference templates of its uses (Exchange: decipher raw, OAEP, PKCS#1 and sign;
/// Signature: sign only).
pub(super) fn key_file_fcp(kid: u8, algid: u8, spec: KeySpec) -> Vec<u8> {
    let crt = |tag: u32, alg: u8| tlv::encode(tag, &[0x80, 1, alg, 0x83, 1, kid, 0x95, 1, 0x40]);
    let mut templates = Vec::new();
    if spec == KeySpec::Exchange {
        for alg in [algid, 0x80 | algid, 0x40 | algid] {
            templates.extend(crt(0xB8, alg));
        }
    }
    templates.extend(crt(0xB6, 0x10 | algid));
    templates.extend(crt(0xB6, 0x50 | algid));
    let mut body = vec![0x82, 1, 0x18, 0x83, 2, 0xB0, kid];
    body.extend_from_slice(&[0x8C, 5, 0x8F, 0x10, 0x10, 0x10, 0x00]);
    tlv::write(&mut body, 0xA5, &templates);
    tlv::encode(0x62, &body)
}

/// The `cmapfile` record of a new container at `index`; fails for a name too long.
pub(super) fn container_record(
    name: &str,
    index: usize,
    request: &KeyRequest,
) -> Result<md::ContainerMapRecord, EnrollError> {
    let bits = request.algorithm.bits() as u16;
    let exchange_key = request.key_spec == KeySpec::Exchange;
    let record = md::ContainerMapRecord {
        name: name.to_owned(),
        flags: md::CONTAINER_VALID | if index == 0 { md::CONTAINER_DEFAULT } else { 0 },
        sig_key_bits: if exchange_key { 0 } else { bits },
        kx_key_bits: if exchange_key { bits } else { 0 },
    };
    minidriver::encode_container_record(&record).map_err(|_| {
        EnrollError::Unsupported(format!(
            "GIDS container {name:?}: container names have at most 39 characters"
        ))
    })?;
    Ok(record)
}

/// The first free container: its `cmapfile` index and key reference.
pub(super) fn free_container(cmap: &[md::ContainerMapRecord]) -> Result<(usize, u8), EnrollError> {
    let index = cmap
        .iter()
        .position(|c| !c.is_valid())
        .unwrap_or(cmap.len());
    let kid = u8::try_from(index + usize::from(FIRST_KEY))
        .ok()
        .filter(|_| index < MAX_CONTAINERS)
        .ok_or_else(|| EnrollError::Unsupported("no free key container on the card".into()))?;
    Ok((index, kid))
}

pub(super) fn check_name_free(
    cmap: &[md::ContainerMapRecord],
    name: &str,
) -> Result<(), EnrollError> {
    if cmap.iter().any(|c| c.is_valid() && c.name == name) {
        return Err(EnrollError::ContainerExists(name.to_owned()));
    }
    Ok(())
}
