//! The card's files as the minidriver sees them: data objects (GET DATA, PUT DATA), the
//! master file that names them (`mscp/cmapfile`, `cardcf`...), and the `cardcf` freshness
//! counters every change bumps so that minidrivers drop their caches.

use softcard::gids::minidriver as md;
use softcard::tlv;

use super::bad;
use crate::transport::exchange;
use crate::{EnrollError, Transport};

/// Bumps `cardcf`'s PIN freshness counter (`bPinsFreshness`) after the PIN changed, as the
/// minidriver does; nothing on a card without a master file or `cardcf`. `command` names
/// a refused write, whose status word is kept.
pub(super) fn bump_pin_freshness(
    t: &mut dyn Transport,
    command: &'static str,
) -> Result<(), EnrollError> {
    let Some(raw) = get_do(t, md::USER_CREATE_DELETE_EF, md::MASTER_FILE_DO)? else {
        return Ok(());
    };
    let master = md::parse_master_file(&raw).map_err(|_| bad("GIDS master file"))?;
    if locate(&master, "", "cardcf").is_none() {
        return Ok(());
    }
    bump_cardcf(t, &master, Fresh::PINS).map_err(|e| match e {
        EnrollError::Card { sw, .. } => EnrollError::Card { command, sw },
        e => e,
    })
}

/// GET DATA of one data object; `None` when it does not exist (6A88, 6A82).
pub(super) fn get_do(
    t: &mut dyn Transport,
    ef: u16,
    tag: u16,
) -> Result<Option<Vec<u8>>, EnrollError> {
    let [h, l] = tag.to_be_bytes();
    let [p1, p2] = ef.to_be_bytes();
    let r = exchange(t, [0, 0xCB, p1, p2], &[0x5C, 2, h, l], true)?;
    if matches!(r.sw, 0x6A88 | 0x6A82) {
        return Ok(None);
    }
    let data = r.ok("GET DATA")?;
    if data.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let (item, _) = tlv::parse_one(&data).map_err(|_| bad("GET DATA answer"))?;
    Ok(Some(item.value.to_vec()))
}

pub(super) fn put_do(
    t: &mut dyn Transport,
    ef: u16,
    tag: u16,
    value: &[u8],
) -> Result<(), EnrollError> {
    let [p1, p2] = ef.to_be_bytes();
    let body = tlv::encode(u32::from(tag), value);
    exchange(t, [0, 0xDB, p1, p2], &body, false)?
        .ok("PUT DATA")
        .map(drop)
}

pub(super) fn read_master(t: &mut dyn Transport) -> Result<Vec<md::MasterFileEntry>, EnrollError> {
    let raw = get_do(t, md::USER_CREATE_DELETE_EF, md::MASTER_FILE_DO)?
        .ok_or(bad("GIDS master file (card not initialized)"))?;
    md::parse_master_file(&raw).map_err(|_| bad("GIDS master file"))
}

pub(super) fn locate(master: &[md::MasterFileEntry], dir: &str, name: &str) -> Option<(u16, u16)> {
    master
        .iter()
        .find(|e| e.directory == dir && e.name == name)
        .map(|e| (e.ef, e.data_object))
}

pub(super) fn read_file(
    t: &mut dyn Transport,
    master: &[md::MasterFileEntry],
    dir: &str,
    name: &str,
) -> Result<Option<Vec<u8>>, EnrollError> {
    match locate(master, dir, name) {
        Some((ef, tag)) => get_do(t, ef, tag),
        None => Ok(None),
    }
}

pub(super) fn write_file(
    t: &mut dyn Transport,
    master: &[md::MasterFileEntry],
    dir: &str,
    name: &str,
    value: &[u8],
) -> Result<(), EnrollError> {
    let (ef, tag) = locate(master, dir, name).ok_or(bad("GIDS master file entry"))?;
    put_do(t, ef, tag, value)
}

/// Which `cardcf` freshness counters to bump.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fresh {
    pins: bool,
    containers: bool,
    files: bool,
}

impl Fresh {
    pub(super) const PINS: Fresh = Fresh {
        pins: true,
        containers: false,
        files: false,
    };
    pub(super) const FILES: Fresh = Fresh {
        pins: false,
        containers: false,
        files: true,
    };
    pub(super) const CONTAINERS_AND_FILES: Fresh = Fresh {
        pins: false,
        containers: true,
        files: true,
    };
}

/// Bumps the `cardcf` freshness counters so that minidrivers drop their caches.
pub(super) fn bump_cardcf(
    t: &mut dyn Transport,
    master: &[md::MasterFileEntry],
    which: Fresh,
) -> Result<(), EnrollError> {
    let raw = read_file(t, master, "", "cardcf")?.unwrap_or_default();
    let mut cf = md::CardCf::parse(&raw).unwrap_or_default();
    if which.pins {
        cf.pins = cf.pins.wrapping_add(1);
    }
    if which.containers {
        cf.containers = cf.containers.wrapping_add(1);
    }
    if which.files {
        cf.files = cf.files.wrapping_add(1);
    }
    write_file(t, master, "", "cardcf", &cf.encode())
}

pub(super) fn read_cmap(
    t: &mut dyn Transport,
    master: &[md::MasterFileEntry],
) -> Result<Vec<md::ContainerMapRecord>, EnrollError> {
    Ok(md::parse_cmapfile(
        &read_file(t, master, "mscp", "cmapfile")?.unwrap_or_default(),
    ))
}
