//! Code shared by the crypto tests: public-key checks done with `rsa`, `p256` and `p384`
//! directly,
//! and the reader of the vector files.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::BoxedUint;
use softcard::crypto::{HashAlg, PublicKey};

/// Every hash, for tests that sign digests of each length.
pub const HASHES: [HashAlg; 4] = [
    HashAlg::Sha1,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
];

/// The `rsa` public key of a card public key.
pub fn rsa_public(public: &PublicKey) -> rsa::PublicKey {
    let PublicKey::Rsa { n, e } = public else {
        panic!("not an RSA key: {public:?}")
    };
    let bits = (n.len() * 8).next_multiple_of(64) as u32;
    let n = BoxedUint::from_be_slice(n, bits).unwrap();
    let e = BoxedUint::from_be_slice(e, 64).unwrap();
    rsa::PublicKey::new(n, e).unwrap()
}

/// Checks a PKCS#1 v1.5 signature over `hash(message)`.
pub fn verify_pkcs1(public: &PublicKey, hash: HashAlg, digest: &[u8], sig: &[u8]) -> bool {
    let info = hash.digest_info(digest);
    rsa_public(public)
        .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &info, sig)
        .is_ok()
}

/// Checks an RSASSA-PSS signature (salt length = digest length).
pub fn verify_pss(public: &PublicKey, hash: HashAlg, digest: &[u8], sig: &[u8]) -> bool {
    let key = rsa_public(public);
    match hash {
        HashAlg::Sha1 => key.verify(rsa::Pss::<sha1::Sha1>::new(), digest, sig),
        HashAlg::Sha256 => key.verify(rsa::Pss::<sha2::Sha256>::new(), digest, sig),
        HashAlg::Sha384 => key.verify(rsa::Pss::<sha2::Sha384>::new(), digest, sig),
        HashAlg::Sha512 => key.verify(rsa::Pss::<sha2::Sha512>::new(), digest, sig),
    }
    .is_ok()
}

/// Checks a DER ECDSA signature over a digest of the field size (32 bytes for P-256, 48
/// for P-384).
pub fn verify_ecdsa(public: &PublicKey, digest: &[u8], der: &[u8]) -> bool {
    match public {
        PublicKey::P256 { point } => {
            assert_eq!(digest.len(), 32);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
            let Ok(sig) = p256::ecdsa::DerSignature::from_bytes(der) else {
                return false;
            };
            PrehashVerifier::<p256::ecdsa::DerSignature>::verify_prehash(&key, digest, &sig).is_ok()
        }
        PublicKey::P384 { point } => {
            assert_eq!(digest.len(), 48);
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
            let Ok(sig) = p384::ecdsa::DerSignature::from_bytes(der) else {
                return false;
            };
            PrehashVerifier::<p384::ecdsa::DerSignature>::verify_prehash(&key, digest, &sig).is_ok()
        }
        PublicKey::Rsa { .. } | PublicKey::Ed25519 { .. } | PublicKey::X25519 { .. } => {
            panic!("not an ECDSA key: {public:?}")
        }
    }
}

/// The ECDSA input of a curve of `len`-byte scalars: the digest's leftmost bytes, or the
/// digest left-padded with zeros.
pub fn field_digest(digest: &[u8], len: usize) -> Vec<u8> {
    let mut z = vec![0u8; len.saturating_sub(digest.len())];
    z.extend_from_slice(&digest[..digest.len().min(len)]);
    z
}

/// One record of a vector file: `key = value` lines up to a blank line.
pub type Record = std::collections::BTreeMap<String, String>;

/// Reads a vector file of `tests/data/crypto/`: records separated by blank lines, `#`
/// comments. A record with a `group` field starts a group; the records after it are its
/// tests. Returns (group, tests) pairs.
pub fn vectors(name: &str) -> Vec<(Record, Vec<Record>)> {
    let path = format!("{}/tests/data/crypto/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut groups: Vec<(Record, Vec<Record>)> = Vec::new();
    for block in text.split("\n\n") {
        let record: Record = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (k, v) = l
                    .split_once(" = ")
                    .unwrap_or_else(|| panic!("bad line {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        if record.is_empty() {
            continue;
        }
        if record.contains_key("group") {
            groups.push((record, Vec::new()));
        } else {
            groups
                .last_mut()
                .expect("a test before any group")
                .1
                .push(record);
        }
    }
    assert!(!groups.is_empty(), "{name}: no vectors");
    groups
}

/// A hex field of a record.
pub fn field(r: &Record, key: &str) -> Vec<u8> {
    hex::decode(r.get(key).unwrap_or_else(|| panic!("no {key} in {r:?}"))).unwrap()
}

/// A big-endian number without its leading zero bytes.
pub fn unsigned(mut x: &[u8]) -> Vec<u8> {
    while let [0, rest @ ..] = x {
        x = rest;
    }
    x.to_vec()
}
