//! Attestation (Yubico ATTEST, INS F9): X.509 certificates for keys generated on the card,
//! signed by the attestation key in slot F9 (ECDSA P-256 with SHA-256). The attestation
//! key and its self-signed certificate (data object 5FFF01) are made at card creation.

use super::{
    der,
    types::{KeyPinPolicy, TouchPolicy},
};
use crate::{
    Status,
    crypto::{CardRng, HashAlg, PrivateKey, PublicKey},
};

/// The attestation CA's subject common name.
pub const CA_NAME: &str = "softcard PIV Attestation";

const ECDSA_SHA256: [u32; 7] = [1, 2, 840, 10045, 4, 3, 2];
const EC_PUBLIC_KEY: [u32; 6] = [1, 2, 840, 10045, 2, 1];
const PRIME256V1: [u32; 7] = [1, 2, 840, 10045, 3, 1, 7];
const SECP384R1: [u32; 5] = [1, 3, 132, 0, 34];
/// id-Ed25519 and id-X25519 (RFC 8410 section 3): no parameters.
const ED25519: [u32; 4] = [1, 3, 101, 112];
const X25519: [u32; 4] = [1, 3, 101, 110];
const RSA_ENCRYPTION: [u32; 7] = [1, 2, 840, 113_549, 1, 1, 1];
const COMMON_NAME: [u32; 4] = [2, 5, 4, 3];
const BASIC_CONSTRAINTS: [u32; 4] = [2, 5, 29, 19];
/// Yubico's PIV attestation arc 1.3.6.1.4.1.41482.3: .3 firmware, .7 serial, .8 policy.
const YUBICO_PIV: [u32; 8] = [1, 3, 6, 1, 4, 1, 41_482, 3];

/// What the attested key's certificate says about it.
pub struct Subject<'a> {
    /// The attested slot's key reference.
    pub key_ref: u8,
    /// Its public key.
    pub public: &'a PublicKey,
    /// Its PIN policy.
    pub pin_policy: KeyPinPolicy,
    /// Its touch policy.
    pub touch_policy: TouchPolicy,
    /// The card's serial number.
    pub serial: u32,
    /// The firmware version the card reports (GET VERSION).
    pub firmware: [u8; 3],
}

fn name(cn: &str) -> Vec<u8> {
    der::seq(&[&der::set(&[&der::seq(&[
        &der::oid(&COMMON_NAME),
        &der::utf8(cn),
    ])])])
}

fn spki(public: &PublicKey) -> Vec<u8> {
    match public {
        PublicKey::Rsa { n, e } => der::seq(&[
            &der::seq(&[&der::oid(&RSA_ENCRYPTION), &der::null()]),
            &der::bit_string(&der::seq(&[&der::uint(n), &der::uint(e)])),
        ]),
        PublicKey::P256 { point } => der::seq(&[
            &der::seq(&[&der::oid(&EC_PUBLIC_KEY), &der::oid(&PRIME256V1)]),
            &der::bit_string(point),
        ]),
        PublicKey::P384 { point } => der::seq(&[
            &der::seq(&[&der::oid(&EC_PUBLIC_KEY), &der::oid(&SECP384R1)]),
            &der::bit_string(point),
        ]),
        PublicKey::Ed25519 { point } => {
            der::seq(&[&der::seq(&[&der::oid(&ED25519)]), &der::bit_string(point)])
        }
        PublicKey::X25519 { point } => {
            der::seq(&[&der::seq(&[&der::oid(&X25519)]), &der::bit_string(point)])
        }
    }
}

fn extension(arc: &[u32], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        der::seq(&[&der::oid(arc), &der::boolean(true), &der::octets(value)])
    } else {
        der::seq(&[&der::oid(arc), &der::octets(value)])
    }
}

fn yubico_arc(last: u32) -> Vec<u32> {
    let mut arc = YUBICO_PIV.to_vec();
    arc.push(last);
    arc
}

/// Builds and signs one certificate.
fn certificate(
    signer: &PrivateKey,
    issuer: &str,
    subject: &str,
    public: &PublicKey,
    extensions: &[Vec<u8>],
    rng: &mut dyn CardRng,
) -> Result<Vec<u8>, Status> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    if let Some(first) = serial.first_mut() {
        *first &= 0x7F;
        *first |= 0x01;
    }
    let alg = der::seq(&[&der::oid(&ECDSA_SHA256)]);
    let validity = der::seq(&[
        &der::utc_time("160314000000Z"),
        &der::generalized_time("99991231235959Z"),
    ]);
    let exts: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let tbs = der::seq(&[
        &der::explicit(0, &der::uint(&[2])),
        &der::uint(&serial),
        &alg,
        &name(issuer),
        &validity,
        &name(subject),
        &spki(public),
        &der::explicit(3, &der::seq(&exts)),
    ]);
    let digest = HashAlg::Sha256.digest(&tbs);
    let signature = signer.ecdsa_sign(&digest, rng)?;
    Ok(der::seq(&[&tbs, &alg, &der::bit_string(&signature)]))
}

/// The self-signed certificate of the attestation key, naming the card's firmware version.
///
/// # Errors
/// The key's signing error.
pub fn ca_certificate(
    key: &PrivateKey,
    version: [u8; 3],
    rng: &mut dyn CardRng,
) -> Result<Vec<u8>, Status> {
    let ca = extension(&BASIC_CONSTRAINTS, true, &der::seq(&[&der::boolean(true)]));
    let firmware = extension(&yubico_arc(3), false, &version);
    certificate(key, CA_NAME, CA_NAME, key.public(), &[ca, firmware], rng)
}

/// The attestation certificate of a generated key.
///
/// # Errors
/// The attestation key's signing error.
pub fn attest(
    signer: &PrivateKey,
    subject: &Subject<'_>,
    rng: &mut dyn CardRng,
) -> Result<Vec<u8>, Status> {
    let cn = format!("YubiKey PIV Attestation {:02x}", subject.key_ref);
    let extensions = [
        extension(&yubico_arc(3), false, &subject.firmware),
        extension(
            &yubico_arc(7),
            false,
            &der::uint(&subject.serial.to_be_bytes()),
        ),
        extension(
            &yubico_arc(8),
            false,
            &[subject.pin_policy.byte(), subject.touch_policy.byte()],
        ),
    ];
    certificate(signer, CA_NAME, &cn, subject.public, &extensions, rng)
}
