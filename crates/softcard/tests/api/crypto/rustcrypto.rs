//! The RustCrypto backend against the `rsa`, `p256` and `p384` public-key operations.

use rsa::traits::PublicKeyParts;
use softcard::crypto::{
    BackendKind, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial, PrivateKey, PublicKey,
    RsaDecryptPadding,
};
use softcard::seeded_rng;

use super::common::{HASHES, field_digest, rsa_public, verify_ecdsa, verify_pkcs1, verify_pss};

const RC: BackendKind = BackendKind::RustCrypto;

fn generate(alg: KeyAlgorithm, seed: u64) -> PrivateKey {
    PrivateKey::generate(RC, alg, &mut seeded_rng(seed)).unwrap()
}

fn rsa_parts(key: &PrivateKey) -> [Vec<u8>; 5] {
    let KeyMaterial::Rsa { n, e, d, p, q } = key.material() else {
        panic!("not RSA")
    };
    [n.clone(), e.clone(), d.clone(), p.clone(), q.clone()]
}

fn check_rsa_key(key: &PrivateKey, bits: usize) {
    let [n, e, d, p, q] = rsa_parts(key);
    assert_eq!(n.len() * 8, bits);
    assert_eq!(e, [1, 0, 1]);
    for x in [&n, &d, &p, &q] {
        assert_ne!(x[0], 0, "leading zero stored");
    }
    assert_eq!(key.public(), &PublicKey::Rsa { n, e });
    assert_eq!(key.algorithm(), KeyAlgorithm::rsa_with_bits(bits).unwrap());
}

/// Signs, verifies and decrypts with one RSA key through every operation.
fn exercise_rsa(key: &PrivateKey) {
    let mut rng = seeded_rng(99);
    let public = rsa_public(key.public());
    let k = public.size();
    for hash in HASHES {
        let digest = hash.digest(b"softcard");
        let sig = key
            .rsa_sign_pkcs1v15(&hash.digest_info(&digest), &mut rng)
            .unwrap();
        assert_eq!(sig.len(), k);
        assert!(verify_pkcs1(key.public(), hash, &digest, &sig));
        assert!(!verify_pkcs1(
            key.public(),
            hash,
            &hash.digest(b"other"),
            &sig
        ));

        if 2 * hash.len() + 2 > k {
            // No room for a salt as long as the digest (SHA-512 with RSA-1024).
            let err = key.rsa_sign_pss(hash, &digest, &mut rng);
            assert_eq!(err, Err(CryptoError::InvalidInput));
            continue;
        }
        let sig = key.rsa_sign_pss(hash, &digest, &mut rng).unwrap();
        assert!(verify_pss(key.public(), hash, &digest, &sig));
        assert!(!verify_pss(
            key.public(),
            hash,
            &hash.digest(b"other"),
            &sig
        ));
        {
            let ct = oaep_encrypt(key.public(), hash, b"session key");
            let pt = key
                .rsa_decrypt(RsaDecryptPadding::Oaep(hash), &ct, &mut rng)
                .unwrap();
            assert_eq!(pt.as_slice(), b"session key");
            // The same cryptogram with the wrong OAEP hash does not decrypt.
            let other = if hash == HashAlg::Sha1 {
                HashAlg::Sha256
            } else {
                HashAlg::Sha1
            };
            let wrong = key.rsa_decrypt(RsaDecryptPadding::Oaep(other), &ct, &mut rng);
            assert_eq!(wrong, Err(CryptoError::Decryption));
        }
    }
    let ct = public
        .encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"pkcs1 message")
        .unwrap();
    let pt = key
        .rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &ct, &mut rng)
        .unwrap();
    assert_eq!(pt.as_slice(), b"pkcs1 message");
    // A cryptogram of a block that is not PKCS#1 padded: raw public operation of 00 01 ...
    let block = {
        let mut b = vec![0x00, 0x01];
        b.resize(k, 0x77);
        b
    };
    let bad = public_op(key.public(), &block);
    assert_eq!(
        key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &bad, &mut rng),
        Err(CryptoError::Decryption)
    );
    assert_eq!(key.rsa_raw(&bad, &mut rng).unwrap(), block);

    // The raw operation: sizes and range.
    let n = public.n().to_be_bytes();
    assert_eq!(key.rsa_raw(&n, &mut rng), Err(CryptoError::InvalidInput));
    assert_eq!(
        key.rsa_raw(&n[1..], &mut rng),
        Err(CryptoError::InvalidInput)
    );
    let mut small = vec![0u8; k];
    small[k - 1] = 2;
    let out = key.rsa_raw(&small, &mut rng).unwrap();
    assert_eq!(out.len(), k);
    assert_eq!(public_op(key.public(), &out), small);
    // Blocks that do not fit, wrong lengths, wrong key type.
    assert_eq!(
        key.rsa_sign_pkcs1v15(&vec![0; k - 10], &mut rng),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &ct[1..], &mut rng),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        key.ecdsa_sign(&[1; 32], &mut rng),
        Err(CryptoError::WrongKeyType)
    );
    assert_eq!(key.ecdh(&[4; 65]).err(), Some(CryptoError::WrongKeyType));
}

/// OAEP encryption with a hash chosen at run time.
pub fn oaep_encrypt(public: &PublicKey, hash: HashAlg, msg: &[u8]) -> Vec<u8> {
    let key = rsa_public(public);
    let rng = &mut seeded_rng(7);
    match hash {
        HashAlg::Sha1 => key.encrypt(rng, rsa::Oaep::<sha1::Sha1>::new(), msg),
        HashAlg::Sha256 => key.encrypt(rng, rsa::Oaep::<sha2::Sha256>::new(), msg),
        HashAlg::Sha384 => key.encrypt(rng, rsa::Oaep::<sha2::Sha384>::new(), msg),
        HashAlg::Sha512 => key.encrypt(rng, rsa::Oaep::<sha2::Sha512>::new(), msg),
    }
    .unwrap()
}

/// `x^e mod n` with the key's public half, left-padded to the modulus length.
pub fn public_op(public: &PublicKey, x: &[u8]) -> Vec<u8> {
    let key = rsa_public(public);
    let m = rsa::BoxedUint::from_be_slice(x, key.n_bits_precision()).unwrap();
    let c = rsa::hazmat::rsa_encrypt(&key, &m).unwrap().to_be_bytes();
    c[c.len() - key.size()..].to_vec()
}

#[test]
fn rsa1024_generate_and_use() {
    let key = generate(KeyAlgorithm::Rsa1024, 1);
    check_rsa_key(&key, 1024);
    exercise_rsa(&key);
}

#[test]
fn rsa2048_generate_and_use() {
    let key = generate(KeyAlgorithm::Rsa2048, 2);
    check_rsa_key(&key, 2048);
    exercise_rsa(&key);
}

#[test]
fn rsa3072_and_4096_generate_and_use() {
    for (alg, bits) in [(KeyAlgorithm::Rsa3072, 3072), (KeyAlgorithm::Rsa4096, 4096)] {
        let key = generate(alg, 3);
        check_rsa_key(&key, bits);
        exercise_rsa(&key);
    }
}

#[test]
fn same_seed_same_key() {
    for alg in [
        KeyAlgorithm::Rsa1024,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
    ] {
        let a = generate(alg, 42);
        let b = generate(alg, 42);
        let c = generate(alg, 43);
        assert_eq!(a.material(), b.material());
        assert_ne!(a.material(), c.material());
        assert_eq!(a.public(), b.public());
    }
}

#[test]
fn reload_gives_the_same_key() {
    let key = generate(KeyAlgorithm::Rsa1024, 5);
    let again = PrivateKey::from_material(RC, key.material().clone()).unwrap();
    assert_eq!(again.public(), key.public());
    let info = HashAlg::Sha256.digest_info(&[9; 32]);
    let a = key.rsa_sign_pkcs1v15(&info, &mut seeded_rng(1)).unwrap();
    let b = again.rsa_sign_pkcs1v15(&info, &mut seeded_rng(2)).unwrap();
    assert_eq!(a, b, "PKCS#1 v1.5 does not depend on the blinding");
}

#[test]
fn inconsistent_rsa_material_is_rejected() {
    let key = generate(KeyAlgorithm::Rsa1024, 6);
    let [n, e, d, p, q] = rsa_parts(&key);
    let load = |n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]| {
        let m = KeyMaterial::Rsa {
            n: n.into(),
            e: e.into(),
            d: d.into(),
            p: p.into(),
            q: q.into(),
        };
        PrivateKey::from_material(RC, m).err()
    };
    assert_eq!(load(&n, &e, &d, &p, &q), None);
    let mut bad_d = d.clone();
    *bad_d.last_mut().unwrap() ^= 2;
    assert_eq!(load(&n, &e, &bad_d, &p, &q), Some(CryptoError::InvalidKey));
    let mut bad_n = n.clone();
    *bad_n.last_mut().unwrap() ^= 2;
    assert_eq!(load(&bad_n, &e, &d, &p, &q), Some(CryptoError::InvalidKey));
    assert_eq!(
        load(&n, &[1, 0, 0, 1], &d, &p, &q),
        Some(CryptoError::InvalidKey)
    );
    assert_eq!(load(&n, &e, &d, &p, &p), Some(CryptoError::InvalidKey));
    assert_eq!(load(&n, &e, &d, &[], &q), Some(CryptoError::InvalidKey));
    // A modulus of an unsupported size.
    assert_eq!(load(&n[1..], &e, &d, &p, &q), Some(CryptoError::InvalidKey));
}

/// Generates two keys of an EC algorithm and checks ECDSA (every digest length) and ECDH
/// against the curve crate's own operations.
fn exercise_ec(alg: KeyAlgorithm, seed: u64) {
    let len = alg.ec_field_len().unwrap();
    let a = generate(alg, seed);
    let b = generate(alg, seed + 1);
    assert_eq!(a.algorithm(), alg);
    let pa = a.public().ec_point().unwrap().to_vec();
    let pb = b.public().ec_point().unwrap().to_vec();
    assert_eq!((pa.len(), pa[0]), (2 * len + 1, 4));

    let mut rng = seeded_rng(seed + 2);
    for hash in HASHES {
        // Longer digests are truncated to the leftmost field-size bits, shorter ones
        // left-padded.
        let digest = hash.digest(b"message");
        let z = field_digest(&digest, len);
        let sig = a.ecdsa_sign(&digest, &mut rng).unwrap();
        assert!(verify_ecdsa(a.public(), &z, &sig), "{alg:?} {hash:?}");
        assert!(!verify_ecdsa(b.public(), &z, &sig));
        let other = field_digest(&hash.digest(b"other"), len);
        assert!(!verify_ecdsa(a.public(), &other, &sig));
    }
    assert_eq!(a.ecdsa_sign(&[], &mut rng), Err(CryptoError::InvalidInput));

    let ab = a.ecdh(&pb).unwrap();
    let ba = b.ecdh(&pa).unwrap();
    assert_eq!(ab.len(), len);
    assert_eq!(ab, ba);
    // Compressed, truncated or off-curve points are refused.
    let mut compressed = pb[..len + 1].to_vec();
    compressed[0] = 2 + (pb[2 * len] & 1);
    assert_eq!(a.ecdh(&compressed).err(), Some(CryptoError::InvalidInput));
    assert_eq!(
        a.ecdh(&pb[..2 * len]).err(),
        Some(CryptoError::InvalidInput)
    );
    let mut off_curve = pb.clone();
    off_curve[2 * len] ^= 1;
    assert_eq!(a.ecdh(&off_curve).err(), Some(CryptoError::InvalidInput));

    assert_eq!(
        a.rsa_raw(&[0; 256], &mut rng),
        Err(CryptoError::WrongKeyType)
    );
    assert_eq!(
        a.rsa_sign_pkcs1v15(&[0; 35], &mut rng),
        Err(CryptoError::WrongKeyType)
    );
}

#[test]
fn p256_generate_sign_and_agree() {
    exercise_ec(KeyAlgorithm::P256, 10);
    let a = generate(KeyAlgorithm::P256, 10);
    let PublicKey::P256 { point } = a.public() else {
        panic!()
    };
    assert_eq!(point.len(), 65);
}

#[test]
fn p384_generate_sign_and_agree() {
    exercise_ec(KeyAlgorithm::P384, 13);
    let a = generate(KeyAlgorithm::P384, 13);
    let KeyMaterial::P384 { d } = a.material() else {
        panic!()
    };
    assert_eq!(d.len(), 48);
    let PublicKey::P384 { point } = a.public() else {
        panic!()
    };
    assert_eq!(point.len(), 97);
    // The public point is the scalar's, as `p384` computes it.
    let secret = p384::SecretKey::from_slice(d).unwrap();
    assert_eq!(
        p384::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&secret.public_key(), false)
            .as_bytes(),
        &point[..]
    );
    // A P-256 point is refused by a P-384 key, and the other way round.
    let p256 = generate(KeyAlgorithm::P256, 14);
    let p256_point = p256.public().ec_point().unwrap();
    assert_eq!(a.ecdh(p256_point).err(), Some(CryptoError::InvalidInput));
    assert_eq!(p256.ecdh(point).err(), Some(CryptoError::InvalidInput));
}

#[test]
fn invalid_p256_scalars_are_rejected() {
    let order =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    for d in [
        vec![0u8; 32],
        order,
        vec![0xff; 32],
        vec![1u8; 31],
        vec![1u8; 33],
    ] {
        let err = PrivateKey::from_material(RC, KeyMaterial::P256 { d }).err();
        assert_eq!(err, Some(CryptoError::InvalidKey));
    }
}

#[test]
fn invalid_p384_scalars_are_rejected() {
    let order = hex::decode(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    )
    .unwrap();
    let mut below = order.clone();
    *below.last_mut().unwrap() -= 1;
    assert!(PrivateKey::from_material(RC, KeyMaterial::P384 { d: below }).is_ok());
    let mut one = vec![0u8; 48];
    one[47] = 1;
    assert!(PrivateKey::from_material(RC, KeyMaterial::P384 { d: one }).is_ok());
    for d in [
        vec![0u8; 48],
        order,
        vec![0xff; 48],
        vec![1u8; 47],
        vec![1u8; 49],
        vec![1u8; 32],
    ] {
        let m = KeyMaterial::P384 { d };
        assert_eq!(m.validate(), Err(CryptoError::InvalidKey), "{m:?}");
        let err = PrivateKey::from_material(RC, m).err();
        assert_eq!(err, Some(CryptoError::InvalidKey));
    }
    // A 48-byte scalar is not a P-256 key, nor a 32-byte one a P-384 key.
    assert!(PrivateKey::from_material(RC, KeyMaterial::P256 { d: vec![1; 48] }).is_err());
    assert!(PrivateKey::from_material(RC, KeyMaterial::P384 { d: vec![1; 32] }).is_err());
}
