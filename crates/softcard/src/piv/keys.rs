//! Asymmetric keys: GENERAL AUTHENTICATE private-key operations (SP 800-73-4 Part 2,
//! section 3.2.4), GENERATE ASYMMETRIC KEY PAIR (section 3.3.2) and Yubico IMPORT KEY.

use rsa::{
    BoxedUint,
    traits::{PrivateKeyParts, PublicKeyParts},
};

use super::{
    PivApplet,
    command::{KeyParams, PrivateOp},
    state::KeyRecord,
    types::{KeyPinPolicy, Origin, Slot},
};
use crate::{
    Context, Status,
    crypto::{KeyAlgorithm, KeyMaterial, PrivateKey, PublicKey, trim_leading_zeros},
    tlv,
};

/// The public key's data objects: `81 n 82 e` (RSA) or `86 point` (EC; the 32 raw bytes
/// of an Ed25519 or X25519 key, as yubikit reads them).
pub fn public_key_fields(public: &PublicKey) -> Vec<u8> {
    let mut out = Vec::new();
    match public {
        PublicKey::Rsa { n, e } => {
            tlv::write(&mut out, 0x81, n);
            tlv::write(&mut out, 0x82, e);
        }
        PublicKey::P256 { point }
        | PublicKey::P384 { point }
        | PublicKey::Ed25519 { point }
        | PublicKey::X25519 { point } => tlv::write(&mut out, 0x86, point),
    }
    out
}

impl PivApplet {
    /// A private-key operation with the key in `slot`: RSA raw (`81` = a block of the
    /// modulus length, padded by the host), ECDSA (`81` = the digest) or ECDH (`85`).
    /// 6A88 for an empty slot, 6A80 for an algorithm other than the key's (as a YubiKey:
    /// ykman takes 6A80 or 6B00 for "this key does not match"), 6982 when the key's PIN
    /// policy is not met.
    pub(super) fn private_operation(
        &mut self,
        alg: Option<KeyAlgorithm>,
        slot: Slot,
        op: PrivateOp<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<Vec<u8>, Status> {
        let record = self
            .state
            .keys
            .get(&slot)
            .ok_or(Status::ReferencedDataNotFound)?;
        let key_alg = record.key.algorithm();
        if alg != Some(key_alg) {
            return Err(Status::WrongData);
        }
        let allowed = match record.pin_policy {
            KeyPinPolicy::Never => true,
            KeyPinPolicy::Once => self.vol.pin_verified,
            KeyPinPolicy::Always => self.vol.pin_verified && self.vol.pin_fresh,
        };
        // A verification right before a use is good for that one use.
        self.vol.pin_fresh = false;
        if !allowed {
            return Err(Status::SecurityStatusNotSatisfied);
        }
        let key = &record.key;
        let result = match (op, key_alg) {
            (PrivateOp::Sign(block), alg) if alg.is_rsa() => key.rsa_raw(block, ctx.rng)?,
            (PrivateOp::Sign(digest), alg) if alg.is_ec() => key.ecdsa_sign(digest, ctx.rng)?,
            // Ed25519 signs the whole message (yubikit sends it unhashed).
            (PrivateOp::Sign(message), KeyAlgorithm::Ed25519) => key.ed25519_sign(message)?,
            (PrivateOp::KeyAgreement(point), alg) if alg.is_ec() || alg == KeyAlgorithm::X25519 => {
                key.ecdh(point)?.to_vec()
            }
            _ => return Err(Status::WrongData),
        };
        Ok(tlv::encode(0x7C, &tlv::encode(0x82, &result)))
    }

    /// GENERATE ASYMMETRIC KEY PAIR, section 3.3.2: needs the management key; answers
    /// `7F49 { 81 n, 82 e }` or `7F49 { 86 point }`.
    pub(super) fn generate(
        &mut self,
        params: KeyParams,
        ctx: &mut Context<'_>,
    ) -> Result<Vec<u8>, Status> {
        self.require_mgmt()?;
        let key = PrivateKey::generate(ctx.backend, params.alg, ctx.rng)?;
        let out = tlv::encode(0x7F49, &public_key_fields(key.public()));
        self.store_key(params, key, Origin::Generated);
        Ok(out)
    }

    /// Yubico IMPORT KEY: RSA from p, q (01, 02; dp, dq and qinv in 03..05 are recomputed)
    /// or P-256 / P-384 from its private scalar (06, 32 or 48 bytes). Needs the management
    /// key.
    pub(super) fn import(
        &mut self,
        params: KeyParams,
        data: &[u8],
        ctx: &mut Context<'_>,
    ) -> Result<(), Status> {
        self.require_mgmt()?;
        let material = match params.alg {
            KeyAlgorithm::P256 | KeyAlgorithm::P384 => {
                let d = tlv::find(data, 0x06)?.ok_or(Status::WrongData)?.to_vec();
                if params.alg == KeyAlgorithm::P256 {
                    KeyMaterial::P256 { d }
                } else {
                    KeyMaterial::P384 { d }
                }
            }
            KeyAlgorithm::Rsa1024
            | KeyAlgorithm::Rsa2048
            | KeyAlgorithm::Rsa3072
            | KeyAlgorithm::Rsa4096 => {
                let p = tlv::find(data, 0x01)?.ok_or(Status::WrongData)?;
                let q = tlv::find(data, 0x02)?.ok_or(Status::WrongData)?;
                rsa_from_primes(p, q)?
            }
            // yubikit `put_key`: the raw 32-byte private key in 07 (Ed25519) or 08 (X25519).
            KeyAlgorithm::Ed25519 => KeyMaterial::Ed25519 {
                seed: tlv::find(data, 0x07)?.ok_or(Status::WrongData)?.to_vec(),
            },
            KeyAlgorithm::X25519 => KeyMaterial::X25519 {
                k: tlv::find(data, 0x08)?.ok_or(Status::WrongData)?.to_vec(),
            },
        };
        let key =
            PrivateKey::from_material(ctx.backend, material).map_err(|_| Status::WrongData)?;
        if key.algorithm() != params.alg {
            return Err(Status::WrongData);
        }
        self.store_key(params, key, Origin::Imported);
        Ok(())
    }

    fn store_key(&mut self, params: KeyParams, key: PrivateKey, origin: Origin) {
        let pin_policy = params
            .pin_policy
            .unwrap_or_else(|| params.slot.default_pin_policy());
        let record = KeyRecord {
            key,
            pin_policy,
            touch_policy: params.touch,
            origin,
        };
        self.state.keys.insert(params.slot, record);
    }
}

/// RSA key material (e = 65537) from the two primes.
fn rsa_from_primes(p: &[u8], q: &[u8]) -> Result<KeyMaterial, Status> {
    let bits = |b: &[u8]| (b.len() * 8) as u32;
    let bp = BoxedUint::from_be_slice(p, bits(p)).map_err(|_| Status::WrongData)?;
    let bq = BoxedUint::from_be_slice(q, bits(q)).map_err(|_| Status::WrongData)?;
    let key = rsa::PrivateKey::from_p_q(bp, bq, BoxedUint::from(65_537u64))
        .map_err(|_| Status::WrongData)?;
    let trim = |b: &[u8]| trim_leading_zeros(b).to_vec();
    Ok(KeyMaterial::Rsa {
        n: trim(&key.n().as_ref().to_be_bytes()),
        e: vec![0x01, 0x00, 0x01],
        d: trim(&key.d().to_be_bytes()),
        p: trim(p),
        q: trim(q),
    })
}

/// The key size a slot's algorithm byte names, for reports.
pub fn describe_alg(alg: KeyAlgorithm) -> &'static str {
    match alg {
        KeyAlgorithm::Rsa1024 => "RSA-1024",
        KeyAlgorithm::Rsa2048 => "RSA-2048",
        KeyAlgorithm::Rsa3072 => "RSA-3072",
        KeyAlgorithm::Rsa4096 => "RSA-4096",
        KeyAlgorithm::P256 => "ECC P-256",
        KeyAlgorithm::P384 => "ECC P-384",
        KeyAlgorithm::Ed25519 => "Ed25519",
        KeyAlgorithm::X25519 => "X25519",
    }
}
