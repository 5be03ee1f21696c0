//! Known-answer tests from Wycheproof vectors (see `tests/data/crypto/README.md`), run
//! against every backend compiled in.

use rsa::BoxedUint;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use softcard::crypto::{
    BackendKind, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial, PrivateKey, PublicKey,
    RsaDecryptPadding,
};
use softcard::seeded_rng;

use super::common::{Record, field, unsigned, vectors, verify_ecdsa};

fn uint(bytes: &[u8]) -> BoxedUint {
    let bits = (bytes.len() * 8).next_multiple_of(64) as u32;
    BoxedUint::from_be_slice(bytes, bits).unwrap()
}

fn be(x: &BoxedUint) -> Vec<u8> {
    unsigned(&x.to_be_bytes())
}

/// RSA material of a group; the primes are recovered from n, e, d when the file has none.
fn rsa_material(g: &Record) -> KeyMaterial {
    let (n, e, d) = (
        unsigned(&field(g, "n")),
        unsigned(&field(g, "e")),
        unsigned(&field(g, "d")),
    );
    let (p, q) = if g.contains_key("p") {
        (unsigned(&field(g, "p")), unsigned(&field(g, "q")))
    } else {
        let key = rsa::PrivateKey::from_components(uint(&n), uint(&e), uint(&d), vec![]).unwrap();
        assert_eq!(be(key.n()), n);
        (be(&key.primes()[0]), be(&key.primes()[1]))
    };
    KeyMaterial::Rsa { n, e, d, p, q }
}

fn hash_named(name: &str) -> HashAlg {
    match name {
        "SHA-1" => HashAlg::Sha1,
        "SHA-256" => HashAlg::Sha256,
        "SHA-384" => HashAlg::Sha384,
        "SHA-512" => HashAlg::Sha512,
        _ => panic!("unexpected hash {name}"),
    }
}

#[test]
fn rsa_pkcs1v15_signatures_match_the_vectors() {
    let mut checked = 0;
    for (group, tests) in vectors("rsa_pkcs1_2048_sig_gen.txt") {
        let hash = hash_named(&group["group"]);
        for backend in BackendKind::available() {
            let key = PrivateKey::from_material(backend, rsa_material(&group)).unwrap();
            for t in &tests {
                let info = hash.digest_info(&hash.digest(&field(t, "msg")));
                let sig = key.rsa_sign_pkcs1v15(&info, &mut seeded_rng(1)).unwrap();
                assert_eq!(sig, field(t, "sig"), "{backend:?} tcId {}", t["tcId"]);
                checked += 1;
            }
        }
    }
    assert!(checked >= 32, "{checked}");
}

/// Decrypts every vector of a file with every backend: valid ones give the message,
/// invalid ones fail with [`CryptoError::Decryption`].
fn decrypt_vectors(file: &str, padding: RsaDecryptPadding) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    for (group, tests) in vectors(file) {
        for backend in BackendKind::available() {
            let key = PrivateKey::from_material(backend, rsa_material(&group)).unwrap();
            for t in &tests {
                let got = key.rsa_decrypt(padding, &field(t, "ct"), &mut seeded_rng(2));
                let id = format!("{backend:?} tcId {}", t["tcId"]);
                match t["result"].as_str() {
                    "valid" => {
                        assert_eq!(got.unwrap().as_slice(), field(t, "msg"), "{id}");
                        valid += 1;
                    }
                    "invalid" => {
                        let err = got.err();
                        assert!(
                            matches!(
                                err,
                                Some(CryptoError::Decryption | CryptoError::InvalidInput)
                            ),
                            "{id}: {err:?}"
                        );
                        invalid += 1;
                    }
                    other => panic!("{id}: result {other}"),
                }
            }
        }
    }
    (valid, invalid)
}

#[test]
fn rsa_oaep_decryption_vectors() {
    let (valid, invalid) = decrypt_vectors(
        "rsa_oaep_2048_sha256.txt",
        RsaDecryptPadding::Oaep(HashAlg::Sha256),
    );
    assert!(valid >= 10 && invalid >= 5, "{valid} {invalid}");
}

#[test]
fn rsa_pkcs1v15_decryption_vectors() {
    let (valid, invalid) =
        decrypt_vectors("rsa_pkcs1_2048_decrypt.txt", RsaDecryptPadding::Pkcs1v15);
    assert!(valid >= 10 && invalid >= 5, "{valid} {invalid}");
}

/// Runs the ECDH vectors of a file with every backend: valid ones give the shared
/// secret, invalid points are refused with [`CryptoError::InvalidInput`]. Returns the counts
/// of (valid, invalid) tests.
fn ecdh_vectors(file: &str, alg: KeyAlgorithm) -> (usize, usize) {
    let len = alg.ec_field_len().unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for (_, tests) in vectors(file) {
        for t in &tests {
            let mut d = unsigned(&field(t, "private"));
            while d.len() < len {
                d.insert(0, 0);
            }
            let material = match alg {
                KeyAlgorithm::P256 => KeyMaterial::P256 { d },
                KeyAlgorithm::P384 => KeyMaterial::P384 { d },
                _ => unreachable!(),
            };
            for backend in BackendKind::available() {
                let key = PrivateKey::from_material(backend, material.clone()).unwrap();
                let got = key.ecdh(&field(t, "public"));
                let id = format!("{backend:?} tcId {}", t["tcId"]);
                if t["result"] == "valid" {
                    assert_eq!(got.unwrap().as_slice(), field(t, "shared"), "{id}");
                    valid += 1;
                } else {
                    assert_eq!(got.err(), Some(CryptoError::InvalidInput), "{id}");
                    invalid += 1;
                }
            }
        }
    }
    (valid, invalid)
}

#[test]
fn ecdh_p256_vectors() {
    let (valid, invalid) = ecdh_vectors("ecdh_secp256r1_ecpoint.txt", KeyAlgorithm::P256);
    assert!(valid >= 100 && invalid >= 20, "{valid} {invalid}");
}

#[test]
fn ecdh_p384_vectors() {
    let (valid, invalid) = ecdh_vectors("ecdh_secp384r1_ecpoint.txt", KeyAlgorithm::P384);
    assert!(valid >= 700 && invalid >= 15, "{valid} {invalid}");
}

/// Checks the ECDSA verification vectors of a file with the verifier the ECDSA tests rely
/// on; returns the counts of (valid, invalid) tests.
fn ecdsa_vectors(file: &str, hash: HashAlg, point: fn(Vec<u8>) -> PublicKey) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    for (group, tests) in vectors(file) {
        let public = point(field(&group, "point"));
        for t in &tests {
            let digest = hash.digest(&field(t, "msg"));
            let ok = verify_ecdsa(&public, &digest, &field(t, "sig"));
            assert_eq!(ok, t["result"] == "valid", "tcId {}", t["tcId"]);
            if ok { valid += 1 } else { invalid += 1 }
        }
    }
    (valid, invalid)
}

/// The verifier the ECDSA tests rely on accepts exactly the valid Wycheproof signatures.
#[test]
fn ecdsa_verification_vectors() {
    let (valid, invalid) = ecdsa_vectors("ecdsa_secp256r1_sha256.txt", HashAlg::Sha256, |point| {
        PublicKey::P256 { point }
    });
    assert!(valid >= 50 && invalid >= 100, "{valid} {invalid}");
    let (valid, invalid) = ecdsa_vectors("ecdsa_secp384r1_sha384.txt", HashAlg::Sha384, |point| {
        PublicKey::P384 { point }
    });
    assert!(valid >= 50 && invalid >= 100, "{valid} {invalid}");
}
