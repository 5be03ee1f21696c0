//! RSA keys: GENERATE ASYMMETRIC KEY PAIR, public key read-back, key import by PUT DATA,
//! MANAGE SECURITY ENVIRONMENT and PERFORM SECURITY OPERATION (GIDS specification v2.0).

use zeroize::Zeroizing;

use super::command::SecOp;
use super::files;
use super::state::{SecurityEnv, State, USER, USER_OR_ADMIN, Volatile};
use crate::{
    Context, Status,
    crypto::{
        HashAlg, KeyAlgorithm, KeyMaterial, PrivateKey, PublicKey, RsaDecryptPadding,
        trim_leading_zeros,
    },
    tlv,
};

/// The RSA algorithm a GIDS algorithm reference names (low nibble 6..9: RSA 1024..4096).
///
/// # Errors
/// [`Status::FunctionNotSupported`] (6A81) for ECC and unknown references.
pub(super) fn rsa_algorithm(reference: u8) -> Result<KeyAlgorithm, Status> {
    match reference & 0x0F {
        0x06 => Ok(KeyAlgorithm::Rsa1024),
        0x07 => Ok(KeyAlgorithm::Rsa2048),
        0x08 => Ok(KeyAlgorithm::Rsa3072),
        0x09 => Ok(KeyAlgorithm::Rsa4096),
        _ => Err(Status::FunctionNotSupported),
    }
}

/// The public key template `7F49 { 81 n, 82 e }`.
pub(super) fn public_template(key: &PrivateKey) -> Result<Vec<u8>, Status> {
    match key.public() {
        PublicKey::Rsa { n, e } => {
            let mut inner = tlv::encode(0x81, n);
            tlv::write(&mut inner, 0x82, e);
            Ok(tlv::encode(0x7F49, &inner))
        }
        PublicKey::P256 { .. } | PublicKey::P384 { .. } => Err(Status::ConditionsNotSatisfied),
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
    algorithm: u8,
    kid: u8,
    want_public: bool,
) -> Result<Vec<u8>, Status> {
    state.require(USER_OR_ADMIN, v)?;
    let alg = rsa_algorithm(algorithm)?;
    let file = state
        .keys
        .get_mut(&kid)
        .ok_or(Status::ReferencedDataNotFound)?;
    if file.algorithms.iter().any(|a| a & 0x0F != algorithm & 0x0F) {
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
pub(super) fn read_public(state: &State, request: &[u8]) -> Result<Vec<u8>, Status> {
    let body = tlv::expect_single(request, 0x70)?;
    let kid = match tlv::parse_one(body)? {
        (
            tlv::Tlv {
                tag: 0x84,
                value: [kid],
            },
            [0xA5, ..],
        ) => *kid,
        _ => return Err(Status::WrongData),
    };
    let key = state
        .keys
        .get(&kid)
        .and_then(|f| f.key.as_ref())
        .ok_or(Status::ReferencedDataNotFound)?;
    public_template(key)
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

/// PUT DATA 3FFF `70 { 84 kid, A5 { ... } }` for an RSA key (kid 81 and up).
pub(super) fn import(
    state: &mut State,
    v: &Volatile,
    ctx: &Context<'_>,
    kid: u8,
    template: &[u8],
) -> Result<(), Status> {
    state.require(USER_OR_ADMIN, v)?;
    let file = state
        .keys
        .get_mut(&kid)
        .ok_or(Status::ReferencedDataNotFound)?;
    let material = rsa_material(template)?;
    let alg = material.algorithm().map_err(|_| Status::WrongData)?;
    if file
        .algorithms
        .iter()
        .any(|a| rsa_algorithm(*a).is_ok_and(|k| k != alg))
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
    algorithm: u8,
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

fn env_key<'s>(state: &'s State, v: &Volatile, op: SecOp) -> Result<(&'s PrivateKey, u8), Status> {
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
    Ok((key, env.algorithm & 0xF0))
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
        0x50 => Ok(key.rsa_sign_pkcs1v15(input, &mut *ctx.rng)?),
        0x00 | 0x10 => {
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
        0x40 => key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, input, &mut *ctx.rng)?,
        0x80 => key.rsa_decrypt(RsaDecryptPadding::Oaep(HashAlg::Sha1), input, &mut *ctx.rng)?,
        0x00 => Zeroizing::new(key.rsa_raw(input, &mut *ctx.rng)?),
        _ => return Err(Status::ConditionsNotSatisfied),
    };
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_references() {
        assert_eq!(rsa_algorithm(0x07), Ok(KeyAlgorithm::Rsa2048));
        assert_eq!(rsa_algorithm(0x57), Ok(KeyAlgorithm::Rsa2048));
        assert_eq!(rsa_algorithm(0x49), Ok(KeyAlgorithm::Rsa4096));
        assert_eq!(rsa_algorithm(0x0C), Err(Status::FunctionNotSupported));
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
