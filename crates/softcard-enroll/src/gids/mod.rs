//! GIDS as a minidriver client drives it: containers are key files `B0xx` (xx = 81 +
//! container index) registered in `mscp/cmapfile` and the key map; certificates are the
//! compressed files `mscp/kxcNN` / `mscp/kscNN`; every change bumps `cardcf`.
//!
//! The minidriver file formats come from [`softcard::gids::minidriver`] (what the card
//! reads itself) and [`crate::minidriver`] (what only clients write).

use softcard::Secret;
use softcard::crypto::sym::{SymAlg, SymKey};
use softcard::crypto::{CardRng, KeyAlgorithm};
use softcard::gids::minidriver as md;
use softcard::tlv;
use zeroize::Zeroizing;

use crate::applet::{Applet, SignOperation, sym_alg_by_length};
use crate::client::{
    Application, Container, ContainerName, KeyRequest, Unblock, new_pin_status, pin_status,
};
use crate::minidriver;
use crate::piv::ManagementKey;
use crate::transport::{SW_OK, exchange};
use crate::{CardOperation, EnrollError, KeySpec, Transport, public_key};

mod containers;
mod files;

use containers::{check_name_free, container_record, free_container, key_file_fcp, read_public};
use files::{
    Fresh, bump_cardcf, bump_pin_freshness, get_do, locate, put_do, read_cmap, read_file,
    read_master, write_file,
};

/// The GIDS AID without its version byte: SELECT finds any version.
const AID_PREFIX: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x97, 0x42, 0x54, 0x46, 0x59];
/// Key reference of container 0.
const FIRST_KEY: u8 = 0x81;
/// The largest number of containers a client creates (key references 81..FF).
const MAX_CONTAINERS: usize = 126;
/// PIN reference.
const PIN_REF: u8 = 0x80;
/// The administrator key refused when a 24-byte key taken for 3DES met an AES challenge.
const ADMIN_KEY_NOT_3DES: &str = "administrator key taken as 3DES (the card's 16-byte challenge is an AES one: is the key AES-192?)";
/// What a GIDS card answering 6A80 to a new PIN asks.
const PIN_RULES: &str = "the new PIN breaks the card's length rules (a Windows virtual smart card PIN has 8 to 127 characters)";

fn bad(what: &'static str) -> EnrollError {
    EnrollError::Malformed(what)
}

/// The GIDS algorithm reference of an RSA size (06 RSA-1024 .. 09 RSA-4096).
fn algorithm_id(alg: KeyAlgorithm) -> Result<u8, EnrollError> {
    match alg {
        KeyAlgorithm::Rsa1024 => Ok(0x06),
        KeyAlgorithm::Rsa2048 => Ok(0x07),
        KeyAlgorithm::Rsa3072 => Ok(0x08),
        KeyAlgorithm::Rsa4096 => Ok(0x09),
        KeyAlgorithm::P256 | KeyAlgorithm::P384 | KeyAlgorithm::Ed25519 | KeyAlgorithm::X25519 => {
            Err(EnrollError::Unsupported(
                "GIDS cards hold RSA keys only (1024 to 4096 bits)".into(),
            ))
        }
    }
}

/// Administrator authentication: MSE SET, then GENERAL AUTHENTICATE with the card's
/// challenge, answered by encrypting it in CBC mode with a zero IV.
///
/// `alg` is the key's algorithm; `None` takes it from the length: 24 bytes 3DES, 16
/// AES-128, 32 AES-256.
fn authenticate_admin(
    t: &mut dyn Transport,
    admin_key: &[u8],
    alg: Option<SymAlg>,
) -> Result<(), EnrollError> {
    let alg = alg
        .or_else(|| sym_alg_by_length(admin_key.len()))
        .ok_or_else(|| {
            EnrollError::Unsupported(format!(
                "an administrator key of {} bytes (24: 3DES or AES-192, 16 or 32: AES)",
                admin_key.len()
            ))
        })?;
    let key = SymKey::from_bytes(alg, admin_key).map_err(|e| {
        EnrollError::Unsupported(format!(
            "administrator key ({alg:?}, {} bytes): {e}",
            admin_key.len()
        ))
    })?;
    let fail = |sw| EnrollError::AdminAuthentication {
        what: "administrator key",
        sw,
    };
    let r = exchange(t, [0, 0x22, 0xC1, 0xA4], &[0x83, 1, 0x80], false)?;
    if r.sw != SW_OK {
        return Err(fail(r.sw));
    }
    let r = exchange(t, [0, 0x87, 0, 0], &[0x7C, 2, 0x81, 0], true)?;
    if r.sw != SW_OK {
        return Err(fail(r.sw));
    }
    let inner = tlv::expect_single(&r.data, 0x7C).map_err(|_| bad("GENERAL AUTHENTICATE"))?;
    let mut answer = tlv::find(inner, 0x81)
        .ok()
        .flatten()
        .ok_or(bad("GENERAL AUTHENTICATE challenge"))?
        .to_vec();
    // A challenge of another block length than the key's (8 bytes 3DES, 16 AES) means the
    // card's key is of another algorithm: typically AES-192 taken for 3DES.
    let other_algorithm = answer.len() != alg.block_len();
    if answer.is_empty() || !answer.len().is_multiple_of(alg.block_len()) {
        return Err(EnrollError::Unsupported(format!(
            "the card's {}-byte challenge does not fit a {alg:?} administrator key: the card's key is of another algorithm (8-byte challenges are 3DES's)",
            answer.len()
        )));
    }
    key.cbc_encrypt(&mut answer)
        .map_err(|_| bad("GENERAL AUTHENTICATE challenge"))?;
    let body = tlv::encode(0x7C, &tlv::encode(0x82, &answer));
    let r = exchange(t, [0, 0x87, 0, 0], &body, false)?;
    if r.sw != SW_OK {
        if other_algorithm && alg == SymAlg::Tdes {
            return Err(EnrollError::AdminAuthentication {
                what: ADMIN_KEY_NOT_3DES,
                sw: r.sw,
            });
        }
        return Err(fail(r.sw));
    }
    Ok(())
}

/// MSE SET (digital signature template, PKCS#1 v1.5 padding by the card) and PSO:
/// COMPUTE DIGITAL SIGNATURE over a DigestInfo.
fn sign(
    t: &mut dyn Transport,
    kid: u8,
    algorithm: KeyAlgorithm,
    digest_info: &[u8],
) -> Result<Vec<u8>, EnrollError> {
    let algid = 0x50 | algorithm_id(algorithm)?;
    exchange(
        t,
        [0, 0x22, 0x41, 0xB6],
        &[0x80, 1, algid, 0x84, 1, kid],
        false,
    )?
    .ok("MANAGE SECURITY ENVIRONMENT")?;
    exchange(t, [0, 0x2A, 0x9E, 0x9A], digest_info, true)?.ok("PSO: COMPUTE DIGITAL SIGNATURE")
}

fn certificate_file(container: &Container) -> String {
    minidriver::certificate_file_name(
        container.key_reference.wrapping_sub(FIRST_KEY),
        container.key_spec == KeySpec::Exchange,
    )
}

/// The GIDS applet.
pub(crate) struct Gids;

impl Applet for Gids {
    fn application(&self) -> Application {
        Application::Gids
    }

    fn aid(&self) -> &'static [u8] {
        AID_PREFIX
    }

    fn verify_pin(&self, t: &mut dyn Transport, pin: &[u8]) -> Result<(), EnrollError> {
        let r = exchange(t, [0, 0x20, 0, PIN_REF], pin, false)?;
        pin_status(r, "PIN", "VERIFY")
    }

    /// CHANGE REFERENCE DATA (old PIN then new PIN), then the `cardcf` PIN freshness bump
    /// the minidriver makes: the card leaves the new PIN verified, which writing `cardcf`
    /// needs.
    fn change_pin(&self, t: &mut dyn Transport, old: &[u8], new: &[u8]) -> Result<(), EnrollError> {
        let r = exchange(
            t,
            [0, 0x24, 0, PIN_REF],
            &Zeroizing::new([old, new].concat()),
            false,
        )?;
        new_pin_status(r, "PIN", "CHANGE REFERENCE DATA", PIN_RULES)?;
        bump_pin_freshness(t, "PUT DATA of cardcf (the PIN was changed)")
    }

    /// Administrator authentication ([`authenticate_admin`]), RESET RETRY COUNTER with the
    /// new PIN, then VERIFY of the new PIN (the card logs everyone out after RESET RETRY
    /// COUNTER, and writing `cardcf` needs the PIN) and the `cardcf` PIN freshness bump the
    /// minidriver makes.
    fn unblock(
        &self,
        t: &mut dyn Transport,
        secret: Unblock<'_>,
        new: &[u8],
    ) -> Result<(), EnrollError> {
        match secret {
            Unblock::AdminKey(key) => authenticate_admin(t, key, None)?,
            Unblock::AdminKeyWith(alg, key) => authenticate_admin(t, key, Some(alg))?,
            Unblock::Puk(_) => {
                return Err(EnrollError::Unsupported(
                    "GIDS unblocks with the administrator key".into(),
                ));
            }
        }
        let r = exchange(t, [0, 0x2C, 0x02, PIN_REF], new, false)?;
        if matches!(r.sw, 0x6A80 | 0x6700) {
            return Err(EnrollError::NewPinRefused {
                what: "PIN",
                sw: r.sw,
                rules: PIN_RULES,
            });
        }
        r.ok("RESET RETRY COUNTER")?;
        self.verify_pin(t, new)?;
        bump_pin_freshness(t, "PUT DATA of cardcf (the PIN was unblocked)")
    }

    fn leaves_new_pin_verified(&self) -> bool {
        true
    }

    /// The valid `cmapfile` records whose key file holds a key.
    fn containers(&self, t: &mut dyn Transport) -> Result<Vec<Container>, EnrollError> {
        let master = read_master(t)?;
        let mut out = Vec::new();
        for (i, rec) in read_cmap(t, &master)?.into_iter().enumerate() {
            let Ok(kid) = u8::try_from(i + usize::from(FIRST_KEY)) else {
                break;
            };
            if !rec.is_valid() {
                continue;
            }
            let Some(public_key) = read_public(t, kid)? else {
                continue;
            };
            let exchange = rec.kx_key_bits > 0;
            let file = minidriver::certificate_file_name(kid - FIRST_KEY, exchange);
            out.push(Container {
                algorithm: public_key::algorithm(&public_key)?,
                public_key,
                name: rec.name,
                key_spec: if exchange {
                    KeySpec::Exchange
                } else {
                    KeySpec::Signature
                },
                key_reference: kid,
                has_certificate: locate(&master, "mscp", &file).is_some(),
            });
        }
        Ok(out)
    }

    /// An RSA algorithm, a free container, a free name that fits a `cmapfile` record.
    fn check_key_request(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
    ) -> Result<(), EnrollError> {
        algorithm_id(request.algorithm)?;
        let master = read_master(t)?;
        let cmap = read_cmap(t, &master)?;
        let (index, _) = free_container(&cmap)?;
        if let ContainerName::Named(name) = &request.container {
            check_name_free(&cmap, name)?;
            container_record(name, index, request)?;
        }
        Ok(())
    }

    /// Creates the container: key file, key generation, key map, `cmapfile`, `cardcf`.
    fn create_key(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
        rng: &mut dyn CardRng,
        _management_key: Option<&ManagementKey>,
    ) -> Result<Container, EnrollError> {
        let algid = algorithm_id(request.algorithm)?;
        let master = read_master(t)?;
        let mut cmap = read_cmap(t, &master)?;
        let name = match &request.container {
            ContainerName::Automatic => minidriver::automatic_container_name(rng),
            ContainerName::Named(n) => n.clone(),
        };
        check_name_free(&cmap, &name)?;
        let (index, kid) = free_container(&cmap)?;
        let exchange_key = request.key_spec == KeySpec::Exchange;
        let record = container_record(&name, index, request)?;
        // A key file left by a deleted container is removed first (6A82: there is none).
        let stale = exchange(t, [0, 0xE4, 0, 0], &[0xB0, kid], false)?;
        if !matches!(stale.sw, SW_OK | 0x6A82) {
            return Err(EnrollError::Card {
                command: "DELETE FILE",
                sw: stale.sw,
            });
        }
        let fcp = key_file_fcp(kid, algid, request.key_spec);
        exchange(t, [0, 0xE0, 0, 0], &fcp, false)?.ok("CREATE FILE")?;
        exchange(t, [0, 0x44, 0, 0], &[], false)?.ok("ACTIVATE FILE")?;
        let crt = [0xAC, 6, 0x80, 1, algid, 0x83, 1, kid];
        exchange(t, [0, 0x47, 0, 0], &crt, false)?.ok("GENERATE ASYMMETRIC KEY PAIR")?;
        let public_key = read_public(t, kid)?.ok_or(bad("GIDS public key"))?;
        // Key map: version 01, then one record per container.
        let mut keymap =
            get_do(t, md::USER_CREATE_DELETE_EF, minidriver::KEYMAP_DO)?.unwrap_or_default();
        let keymap_record = minidriver::KeymapRecord {
            state: 1,
            algid,
            keytype: if exchange_key {
                minidriver::KEYMAP_EXCHANGE
            } else {
                minidriver::KEYMAP_SIGNATURE
            },
            keyref: 0xB000 | u16::from(kid),
        };
        minidriver::set_keymap_record(&mut keymap, index, &keymap_record);
        if index == cmap.len() {
            cmap.push(record);
        } else if let Some(slot) = cmap.get_mut(index) {
            *slot = record;
        }
        let cmap_bytes = minidriver::encode_cmapfile(&cmap).map_err(|_| bad("cmapfile"))?;
        bump_cardcf(t, &master, Fresh::CONTAINERS_AND_FILES)?;
        put_do(t, md::USER_CREATE_DELETE_EF, minidriver::KEYMAP_DO, &keymap)?;
        write_file(t, &master, "mscp", "cmapfile", &cmap_bytes)?;
        Ok(request.created(name, public_key, kid))
    }

    /// A DigestInfo; the card pads.
    fn rsa_operation(&self) -> CardOperation {
        CardOperation::RsaDigestInfo
    }

    /// MSE SET and PSO: COMPUTE DIGITAL SIGNATURE; the PIN verified once serves them all.
    fn sign_operation<'a>(
        &self,
        t: &'a mut dyn Transport,
        container: &Container,
        _pin: Option<Secret>,
    ) -> SignOperation<'a> {
        let (kid, algorithm) = (container.key_reference, container.algorithm);
        Box::new(move |input| sign(t, kid, algorithm, input))
    }

    /// Writes `mscp/kxcNN` or `mscp/kscNN` (compressed), creating its master file entry in
    /// the first free data object of EF A010 when it is new, and bumps `cardcf`.
    fn write_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
        der: &[u8],
        _management_key: Option<&ManagementKey>,
    ) -> Result<(), EnrollError> {
        let stored = minidriver::compress_certificate(der)
            .map_err(|_| EnrollError::Unsupported("a certificate over 65535 bytes".into()))?;
        let mut master = read_master(t)?;
        let file = certificate_file(container);
        if locate(&master, "mscp", &file).is_none() {
            let ef = md::EVERYONE_READ_USER_WRITE_EF;
            let tag = (md::CARDAPPS_DO..=0xDFFF)
                .find(|d| !master.iter().any(|e| e.ef == ef && e.data_object == *d))
                .ok_or_else(|| {
                    EnrollError::Unsupported("no free data object on the card".into())
                })?;
            master.push(md::MasterFileEntry::new("mscp", &file, ef, tag));
            let encoded = md::encode_master_file(&master).map_err(|_| bad("GIDS master file"))?;
            bump_cardcf(t, &master, Fresh::FILES)?;
            put_do(t, md::USER_CREATE_DELETE_EF, md::MASTER_FILE_DO, &encoded)?;
        }
        bump_cardcf(t, &master, Fresh::FILES)?;
        write_file(t, &master, "mscp", &file, &stored)
    }

    fn read_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
    ) -> Result<Option<Vec<u8>>, EnrollError> {
        let master = read_master(t)?;
        match read_file(t, &master, "mscp", &certificate_file(container))? {
            Some(stored) if !stored.is_empty() => minidriver::decompress_certificate(&stored)
                .map(Some)
                .map_err(|_| bad("compressed certificate")),
            _ => Ok(None),
        }
    }
}
