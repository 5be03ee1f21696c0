//! RSA keys: GENERATE ASYMMETRIC KEY PAIR, public key read-back, key import by PUT DATA,
//! MANAGE SECURITY ENVIRONMENT and PERFORM SECURITY OPERATION (GIDS specification v2.0).

use zeroize::Zeroizing;

use super::command::{AlgorithmRef, Scheme, SecOp};
use super::files;
use super::state::{SecurityEnv, State, USER, USER_OR_ADMIN, Volatile};
use crate::{
    Context, Status,
    crypto::{HashAlg, KeyMaterial, PrivateKey, PublicKey, RsaDecryptPadding},
    tlv,
};

/// The public key template `7F49 { 81 n, 82 e }`.
pub(super) fn public_template(key: &PrivateKey) -> Result<Vec<u8>, Status> {
    match key.public() {
        PublicKey::Rsa { n, e } => {
            let mut inner = tlv::encode(0x81, n);
            tlv::write(&mut inner, 0x82, e);
            Ok(tlv::encode(0x7F49, &inner))
        }
        PublicKey::P256 { .. }
        | PublicKey::P384 { .. }
        | PublicKey::Ed25519 { .. }
        | PublicKey::X25519 { .. } => Err(Status::ConditionsNotSatisfied),
    }
}

fn modulus_len(key: &PrivateKey) -> usize {
    key.algorithm().bits() / 8
}

/// GENERATE ASYMMETRIC KEY PAIR into an existing key file; answers the public key when Le
/// was given.
pub(super) fn generate(
    state: &mut State,
    v: &Volatile,
    ctx: &mut Context<'_>,
    algorithm: AlgorithmRef,
    kid: u8,
    want_public: bool,
) -> Result<Vec<u8>, Status> {
    state.require(USER_OR_ADMIN, v)?;
    let alg = algorithm.rsa()?;
    let file = state
        .keys
        .get_mut(&kid)
        .ok_or(Status::ReferencedDataNotFound)?;
    if file
        .algorithms
        .iter()
        .any(|a| !AlgorithmRef(*a).same_key_size(algorithm))
    {
        return Err(Status::WrongData);
    }
    let key = PrivateKey::generate(ctx.backend, alg, &mut *ctx.rng)?;
    let public = if want_public {
        public_template(&key)?
    } else {
        Vec::new()
    };
    file.key = Some(key);
    file.active = true;
    Ok(public)
}

/// GET DATA 3FFF `70 { 84 kid, A5 { 7F49 } }`: the public key of a key file.
pub(super) fn read_public(state: &State, kid: u8) -> Result<Vec<u8>, Status> {
    let key = state
        .keys
        .get(&kid)
        .and_then(|f| f.key.as_ref())
        .ok_or(Status::ReferencedDataNotFound)?;
    public_template(key)
}

/// PUT DATA 3FFF `70 { 84 kid, A5 { ... } }` for an RSA key (kid 81 and up).
pub(super) fn import(
    state: &mut State,
    v: &Volatile,
    ctx: &Context<'_>,
    kid: u8,
    material: KeyMaterial,
) -> Result<(), Status> {
    state.require(USER_OR_ADMIN, v)?;
    let file = state
        .keys
        .get_mut(&kid)
        .ok_or(Status::ReferencedDataNotFound)?;
    let alg = material.algorithm().map_err(|_| Status::WrongData)?;
    if file
        .algorithms
        .iter()
        .any(|a| AlgorithmRef(*a).rsa().is_ok_and(|k| k != alg))
    {
        return Err(Status::WrongData);
    }
    let key = PrivateKey::from_material(ctx.backend, material).map_err(|_| Status::WrongData)?;
    file.key = Some(key);
    file.active = true;
    Ok(())
}

/// MSE SET for a key: the key file must exist, and one of its control reference templates
/// must allow the operation with this algorithm reference (a signature-only key does not
/// decipher).
///
/// # Errors
/// [`Status::ReferencedDataNotFound`] (6A88) without the key file, [`Status::WrongData`]
/// (6A80) for a use its file does not allow.
pub(super) fn set_env(
    state: &State,
    v: &mut Volatile,
    op: SecOp,
    algorithm: AlgorithmRef,
    key: u8,
) -> Result<(), Status> {
    v.env = None;
    let file = state.keys.get(&key).ok_or(Status::ReferencedDataNotFound)?;
    let crt = match op {
        SecOp::Sign => 0xB6,
        SecOp::Decipher => 0xB8,
    };
    if !files::key_permits(&file.fcp, crt, algorithm) {
        return Err(Status::WrongData);
    }
    v.env = Some(SecurityEnv { op, algorithm, key });
    Ok(())
}

fn env_key<'s>(
    state: &'s State,
    v: &Volatile,
    op: SecOp,
) -> Result<(&'s PrivateKey, Scheme), Status> {
    let env = v
        .env
        .filter(|e| e.op == op)
        .ok_or(Status::ConditionsNotSatisfied)?;
    state.require(USER, v)?;
    let key = state
        .keys
        .get(&env.key)
        .and_then(|f| f.key.as_ref())
        .ok_or(Status::ReferencedDataNotFound)?;
    Ok((key, env.algorithm.scheme()))
}

/// PSO: COMPUTE DIGITAL SIGNATURE. Algorithm 5x: the card pads a DigestInfo (PKCS#1 v1.5);
/// 1x or 0x: the input is the whole block (raw RSA), left-padded with zeros if shorter.
pub(super) fn sign(
    state: &State,
    v: &Volatile,
    ctx: &mut Context<'_>,
    input: &[u8],
) -> Result<Vec<u8>, Status> {
    let (key, scheme) = env_key(state, v, SecOp::Sign)?;
    let k = modulus_len(key);
    match scheme {
        Scheme::Pkcs1Sign => Ok(key.rsa_sign_pkcs1v15(input, &mut *ctx.rng)?),
        Scheme::Raw | Scheme::RawSign => {
            if input.len() > k {
                return Err(Status::WrongData);
            }
            let mut block = Zeroizing::new(vec![0u8; k - input.len()]);
            block.extend_from_slice(input);
            Ok(key.rsa_raw(&block, &mut *ctx.rng)?)
        }
        _ => Err(Status::ConditionsNotSatisfied),
    }
}

/// PSO: DECIPHER of a cryptogram of exactly the modulus length, without a padding
/// indicator byte (as the Windows TPM virtual smart card wants it). Algorithm 4x: PKCS#1
/// v1.5; 8x: OAEP with SHA-1; 0x: raw.
pub(super) fn decipher(
    state: &State,
    v: &Volatile,
    ctx: &mut Context<'_>,
    input: &[u8],
) -> Result<Vec<u8>, Status> {
    let (key, scheme) = env_key(state, v, SecOp::Decipher)?;
    if input.len() != modulus_len(key) {
        return Err(Status::WrongData);
    }
    let plain = match scheme {
        Scheme::Pkcs1Decipher => {
            key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, input, &mut *ctx.rng)?
        }
        Scheme::OaepSha1 => {
            key.rsa_decrypt(RsaDecryptPadding::Oaep(HashAlg::Sha1), input, &mut *ctx.rng)?
        }
        Scheme::Raw => Zeroizing::new(key.rsa_raw(input, &mut *ctx.rng)?),
        _ => return Err(Status::ConditionsNotSatisfied),
    };
    Ok(plain.to_vec())
}
