//! The RustCrypto backend against the `rsa` and `p256` public-key operations.

use rsa::traits::PublicKeyParts;
use softcard::crypto::{
    BackendKind, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial, PrivateKey, PublicKey,
    RsaDecryptPadding,
};
use softcard::seeded_rng;

use crate::common::{rsa_public, verify_ecdsa, verify_pkcs1, verify_pss};

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
    for hash in [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
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
    for alg in [KeyAlgorithm::Rsa1024, KeyAlgorithm::P256] {
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

#[test]
fn p256_generate_sign_and_agree() {
    let a = generate(KeyAlgorithm::P256, 10);
    let b = generate(KeyAlgorithm::P256, 11);
    assert_eq!(a.algorithm(), KeyAlgorithm::P256);
    let PublicKey::P256 { point: pa } = a.public().clone() else {
        panic!()
    };
    let PublicKey::P256 { point: pb } = b.public().clone() else {
        panic!()
    };
    assert_eq!((pa.len(), pa[0]), (65, 4));

    let mut rng = seeded_rng(12);
    let digest = HashAlg::Sha256.digest(b"message");
    let sig = a.ecdsa_sign(&digest, &mut rng).unwrap();
    assert!(verify_ecdsa(a.public(), &digest, &sig));
    assert!(!verify_ecdsa(b.public(), &digest, &sig));
    assert!(!verify_ecdsa(
        a.public(),
        &HashAlg::Sha256.digest(b"other"),
        &sig
    ));
    // Longer digests are truncated to their leftmost 256 bits, shorter ones left-padded.
    let long = HashAlg::Sha384.digest(b"message");
    let sig = a.ecdsa_sign(&long, &mut rng).unwrap();
    assert!(verify_ecdsa(a.public(), &long[..32], &sig));
    let short = HashAlg::Sha1.digest(b"message");
    let sig = a.ecdsa_sign(&short, &mut rng).unwrap();
    let mut padded = vec![0u8; 12];
    padded.extend_from_slice(&short);
    assert!(verify_ecdsa(a.public(), &padded, &sig));

    let ab = a.ecdh(&pb).unwrap();
    let ba = b.ecdh(&pa).unwrap();
    assert_eq!(ab.len(), 32);
    assert_eq!(ab, ba);
    // Compressed, truncated or off-curve points are refused.
    let mut compressed = pb[..33].to_vec();
    compressed[0] = 2 + (pb[64] & 1);
    assert_eq!(a.ecdh(&compressed).err(), Some(CryptoError::InvalidInput));
    assert_eq!(a.ecdh(&pb[..64]).err(), Some(CryptoError::InvalidInput));
    let mut off_curve = pb.clone();
    off_curve[64] ^= 1;
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
fn invalid_p256_scalars_are_rejected() {
    let order =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    for d in [vec![0u8; 32], order, vec![1u8; 31], vec![1u8; 33]] {
        let err = PrivateKey::from_material(RC, KeyMaterial::P256 { d }).err();
        assert_eq!(err, Some(CryptoError::InvalidKey));
    }
}
