//! The two backends against each other: identical PKCS#1 v1.5 signatures, each side verifies
//! the other's PSS and ECDSA signatures, decrypts the other's cryptograms, agrees on ECDH.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey,
    PublicEncryptingKey,
};
use aws_lc_rs::signature::{self as aws_sig, UnparsedPublicKey};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::EncodePublicKey;
use softcard::crypto::{
    BackendKind, CryptoError, HashAlg, KeyAlgorithm, KeyMaterial, PrivateKey, RsaDecryptPadding,
};
use softcard::seeded_rng;

use super::common::{
    HASHES as ALL, field_digest, rsa_public, verify_ecdsa, verify_pkcs1, verify_pss,
};
use super::rustcrypto::{oaep_encrypt, public_op};

/// The same generated key in both backends.
fn pair(alg: KeyAlgorithm, seed: u64) -> (PrivateKey, PrivateKey) {
    let rc = PrivateKey::generate(BackendKind::RustCrypto, alg, &mut seeded_rng(seed)).unwrap();
    let aws = rc.with_backend(BackendKind::AwsLc).unwrap();
    assert_eq!(aws.backend(), BackendKind::AwsLc);
    assert_eq!(rc.public(), aws.public());
    (rc, aws)
}

/// Verifies a signature over a digest with AWS-LC's verifier.
fn aws_verify(
    alg: &'static dyn aws_sig::VerificationAlgorithm,
    key: &[u8],
    hash: HashAlg,
    digest: &[u8],
    sig: &[u8],
) -> bool {
    let md = match hash {
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    };
    let digest = Digest::import_less_safe(digest, md).unwrap();
    UnparsedPublicKey::new(alg, key)
        .verify_digest(&digest, sig)
        .is_ok()
}

#[test]
fn generation_is_shared_and_reproducible() {
    for alg in [
        KeyAlgorithm::Rsa1024,
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
    ] {
        let a = PrivateKey::generate(BackendKind::AwsLc, alg, &mut seeded_rng(4)).unwrap();
        let b = PrivateKey::generate(BackendKind::RustCrypto, alg, &mut seeded_rng(4)).unwrap();
        assert_eq!(a.material(), b.material());
        assert_eq!(a.public(), b.public());
    }
}

#[test]
fn rsa3072_and_rsa4096_pkcs1_signatures_are_identical() {
    for (alg, seed) in [(KeyAlgorithm::Rsa3072, 40), (KeyAlgorithm::Rsa4096, 41)] {
        let (rc, aws) = pair(alg, seed);
        let mut rng = seeded_rng(seed);
        for hash in ALL {
            let digest = hash.digest(b"identical at every size");
            let info = hash.digest_info(&digest);
            let a = rc.rsa_sign_pkcs1v15(&info, &mut rng).unwrap();
            let b = aws.rsa_sign_pkcs1v15(&info, &mut rng).unwrap();
            assert_eq!(a.len(), alg.bits() / 8);
            assert_eq!(a, b, "{alg:?} {hash:?}");
            assert!(verify_pkcs1(aws.public(), hash, &digest, &b));
        }
    }
}

#[test]
fn rsa2048_pkcs1_signatures_are_identical() {
    let (rc, aws) = pair(KeyAlgorithm::Rsa2048, 20);
    let mut rng = seeded_rng(21);
    for hash in ALL {
        let digest = hash.digest(b"identical");
        let info = hash.digest_info(&digest);
        let a = rc.rsa_sign_pkcs1v15(&info, &mut rng).unwrap();
        let b = aws.rsa_sign_pkcs1v15(&info, &mut rng).unwrap();
        assert_eq!(a, b, "{hash:?}");
        assert!(verify_pkcs1(aws.public(), hash, &digest, &b));
    }
    // A TLS 1.1 style MD5 || SHA-1 block (36 bytes, no DigestInfo).
    let block = [0x5a; 36];
    let a = rc.rsa_sign_pkcs1v15(&block, &mut rng).unwrap();
    assert_eq!(aws.rsa_sign_pkcs1v15(&block, &mut rng).unwrap(), a);
    // The raw operation too.
    let mut input = vec![0u8; 256];
    input[255] = 3;
    assert_eq!(
        rc.rsa_raw(&input, &mut rng).unwrap(),
        aws.rsa_raw(&input, &mut rng).unwrap()
    );
    assert_eq!(
        aws.rsa_raw(&[0xff; 256], &mut rng),
        Err(CryptoError::InvalidInput)
    );
    assert_eq!(
        aws.rsa_sign_pkcs1v15(&[0; 250], &mut rng),
        Err(CryptoError::InvalidInput)
    );
}

#[test]
fn rsa2048_pss_verified_by_the_other_side() {
    let (rc, aws) = pair(KeyAlgorithm::Rsa2048, 22);
    let der = rsa_public(rc.public()).to_pkcs1_der().unwrap();
    let mut rng = seeded_rng(23);
    for hash in ALL {
        let digest = hash.digest(b"pss");
        let by_aws = aws.rsa_sign_pss(hash, &digest, &mut rng).unwrap();
        assert!(verify_pss(rc.public(), hash, &digest, &by_aws), "{hash:?}");
        let by_rc = rc.rsa_sign_pss(hash, &digest, &mut rng).unwrap();
        let verifier: &'static dyn aws_sig::VerificationAlgorithm = match hash {
            // aws-lc-rs verifies SHA-1 PSS neither: check that one with `rsa` only.
            HashAlg::Sha1 => {
                assert!(verify_pss(rc.public(), hash, &digest, &by_rc));
                continue;
            }
            HashAlg::Sha256 => &aws_sig::RSA_PSS_2048_8192_SHA256,
            HashAlg::Sha384 => &aws_sig::RSA_PSS_2048_8192_SHA384,
            HashAlg::Sha512 => &aws_sig::RSA_PSS_2048_8192_SHA512,
        };
        assert!(
            aws_verify(verifier, der.as_bytes(), hash, &digest, &by_rc),
            "{hash:?}"
        );
        assert!(!aws_verify(
            verifier,
            der.as_bytes(),
            hash,
            &hash.digest(b"x"),
            &by_rc
        ));
    }
    assert_eq!(
        aws.rsa_sign_pss(HashAlg::Sha256, &[0; 20], &mut rng),
        Err(CryptoError::InvalidInput)
    );
}

#[test]
fn rsa2048_decrypt_each_others_cryptograms() {
    let (rc, aws) = pair(KeyAlgorithm::Rsa2048, 24);
    let spki = rsa_public(rc.public()).to_public_key_der().unwrap();
    let public = PublicEncryptingKey::from_der(spki.as_bytes()).unwrap();
    let mut rng = seeded_rng(25);
    let mut buf = vec![0u8; 256];

    // Encrypted by AWS-LC, decrypted by RustCrypto.
    let pkcs1 = Pkcs1PublicEncryptingKey::new(public.clone()).unwrap();
    let ct = pkcs1.encrypt(b"to rustcrypto", &mut buf).unwrap().to_vec();
    let pt = rc
        .rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &ct, &mut rng)
        .unwrap();
    assert_eq!(pt.as_slice(), b"to rustcrypto");
    let oaep = OaepPublicEncryptingKey::new(public).unwrap();
    for (hash, alg) in [
        (HashAlg::Sha1, &OAEP_SHA1_MGF1SHA1),
        (HashAlg::Sha256, &OAEP_SHA256_MGF1SHA256),
    ] {
        let ct = oaep
            .encrypt(alg, b"oaep to rustcrypto", &mut buf, None)
            .unwrap()
            .to_vec();
        let pt = rc
            .rsa_decrypt(RsaDecryptPadding::Oaep(hash), &ct, &mut rng)
            .unwrap();
        assert_eq!(pt.as_slice(), b"oaep to rustcrypto");
    }

    // Encrypted by `rsa`, decrypted by AWS-LC.
    let ct = rsa_public(rc.public())
        .encrypt(&mut rng, rsa::Pkcs1v15Encrypt, b"to aws-lc")
        .unwrap();
    let pt = aws
        .rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &ct, &mut rng)
        .unwrap();
    assert_eq!(pt.as_slice(), b"to aws-lc");
    for hash in ALL {
        let ct = oaep_encrypt(rc.public(), hash, b"oaep to aws-lc");
        let pt = aws
            .rsa_decrypt(RsaDecryptPadding::Oaep(hash), &ct, &mut rng)
            .unwrap();
        assert_eq!(pt.as_slice(), b"oaep to aws-lc", "{hash:?}");
    }

    // Both refuse the same bad padding, with the same error.
    let mut block = vec![0x00, 0x01];
    block.resize(256, 0x77);
    let bad = public_op(rc.public(), &block);
    for key in [&rc, &aws] {
        let err = key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &bad, &mut rng);
        assert_eq!(err, Err(CryptoError::Decryption));
        let err = key.rsa_decrypt(RsaDecryptPadding::Oaep(HashAlg::Sha256), &bad, &mut rng);
        assert_eq!(err, Err(CryptoError::Decryption));
        let err = key.rsa_decrypt(RsaDecryptPadding::Pkcs1v15, &bad[1..], &mut rng);
        assert_eq!(err, Err(CryptoError::InvalidInput));
    }
}

#[test]
fn rsa1024_works_through_the_aws_lc_backend() {
    let (rc, aws) = pair(KeyAlgorithm::Rsa1024, 26);
    let mut rng = seeded_rng(27);
    let info = HashAlg::Sha256.digest_info(&[1; 32]);
    let sig = aws.rsa_sign_pkcs1v15(&info, &mut rng).unwrap();
    assert_eq!(sig, rc.rsa_sign_pkcs1v15(&info, &mut rng).unwrap());
    let ct = oaep_encrypt(aws.public(), HashAlg::Sha256, b"small");
    let pt = aws
        .rsa_decrypt(RsaDecryptPadding::Oaep(HashAlg::Sha256), &ct, &mut rng)
        .unwrap();
    assert_eq!(pt.as_slice(), b"small");
}

/// Each backend verifies the other's ECDSA signatures over digests of every length, and
/// both agree on ECDH, for one EC algorithm.
fn ec_each_verifies_the_other_and_agrees(
    alg: KeyAlgorithm,
    verifier: &'static aws_sig::EcdsaVerificationAlgorithm,
    verifier_hash: HashAlg,
    seed: u64,
) {
    let len = alg.ec_field_len().unwrap();
    let (rc, aws) = pair(alg, seed);
    let (_, peer) = pair(alg, seed + 1);
    let point = rc.public().ec_point().unwrap().to_vec();
    let peer_point = peer.public().ec_point().unwrap().to_vec();
    let mut rng = seeded_rng(seed + 2);
    for hash in ALL {
        let digest = hash.digest(b"ecdsa");
        let z = field_digest(&digest, len);
        let by_aws = aws.ecdsa_sign(&digest, &mut rng).unwrap();
        assert!(verify_ecdsa(rc.public(), &z, &by_aws), "{alg:?} {hash:?}");
        assert!(
            aws_verify(verifier, &point, verifier_hash, &z, &by_aws),
            "{alg:?} {hash:?}"
        );
        let by_rc = rc.ecdsa_sign(&digest, &mut rng).unwrap();
        assert!(
            aws_verify(verifier, &point, verifier_hash, &z, &by_rc),
            "{alg:?} {hash:?}"
        );
        assert!(!aws_verify(
            verifier,
            &peer_point,
            verifier_hash,
            &z,
            &by_rc
        ));
    }
    let shared = aws.ecdh(&peer_point).unwrap();
    assert_eq!(shared.len(), len);
    assert_eq!(shared, rc.ecdh(&peer_point).unwrap());
    assert_eq!(shared, peer.ecdh(&point).unwrap());
    let mut off_curve = peer_point.clone();
    off_curve[2 * len] ^= 1;
    assert_eq!(aws.ecdh(&off_curve).err(), Some(CryptoError::InvalidInput));
    assert_eq!(
        aws.ecdh(&peer_point[..len + 1]).err(),
        Some(CryptoError::InvalidInput)
    );
    assert_eq!(
        aws.rsa_raw(&[0; 32], &mut rng),
        Err(CryptoError::WrongKeyType)
    );
}

#[test]
fn p256_each_verifies_the_other_and_agrees() {
    ec_each_verifies_the_other_and_agrees(
        KeyAlgorithm::P256,
        &aws_sig::ECDSA_P256_SHA256_ASN1,
        HashAlg::Sha256,
        28,
    );
}

#[test]
fn p384_each_verifies_the_other_and_agrees() {
    ec_each_verifies_the_other_and_agrees(
        KeyAlgorithm::P384,
        &aws_sig::ECDSA_P384_SHA384_ASN1,
        HashAlg::Sha384,
        33,
    );
    // A point of the other curve is refused.
    let (_, p384) = pair(KeyAlgorithm::P384, 36);
    let (_, p256) = pair(KeyAlgorithm::P256, 37);
    let p256_point = p256.public().ec_point().unwrap().to_vec();
    let p384_point = p384.public().ec_point().unwrap().to_vec();
    assert_eq!(
        p384.ecdh(&p256_point).err(),
        Some(CryptoError::InvalidInput)
    );
    assert_eq!(
        p256.ecdh(&p384_point).err(),
        Some(CryptoError::InvalidInput)
    );
}

#[test]
fn aws_lc_rejects_inconsistent_material() {
    let (rc, _) = pair(KeyAlgorithm::Rsa2048, 31);
    let KeyMaterial::Rsa { n, e, d, p, q } = rc.material() else {
        panic!()
    };
    let mut d2 = d.clone();
    d2[10] ^= 1;
    let bad = KeyMaterial::Rsa {
        n: n.clone(),
        e: e.clone(),
        d: d2,
        p: p.clone(),
        q: q.clone(),
    };
    assert_eq!(
        PrivateKey::from_material(BackendKind::AwsLc, bad).err(),
        Some(CryptoError::InvalidKey)
    );
    for bad in [
        KeyMaterial::P256 { d: vec![0; 32] },
        KeyMaterial::P384 { d: vec![0; 48] },
        KeyMaterial::P384 { d: vec![0xff; 48] },
        KeyMaterial::P384 { d: vec![1; 32] },
    ] {
        assert_eq!(
            PrivateKey::from_material(BackendKind::AwsLc, bad).err(),
            Some(CryptoError::InvalidKey)
        );
    }
}

#[test]
fn raw_operation_on_a_signature_block_is_identical() {
    let (rc, aws) = pair(KeyAlgorithm::Rsa2048, 31);
    let mut rng = seeded_rng(32);
    for hash in ALL {
        // A host-padded PKCS#1 v1.5 block, as PIV clients send it (AWS-LC signs these)...
        let info = hash.digest_info(&hash.digest(b"raw block"));
        let mut block = vec![0x00, 0x01];
        block.resize(256 - info.len() - 1, 0xFF);
        block.push(0x00);
        block.extend_from_slice(&info);
        let a = rc.rsa_raw(&block, &mut rng).unwrap();
        assert_eq!(a, aws.rsa_raw(&block, &mut rng).unwrap(), "{hash:?}");
        assert_eq!(a, rc.rsa_sign_pkcs1v15(&info, &mut rng).unwrap());
        // ...and a block that only looks like one (too little padding) goes the raw way
        let mut odd = block.clone();
        odd[2..6].copy_from_slice(&[0x00, 0x01, 0x02, 0x03]);
        assert_eq!(
            rc.rsa_raw(&odd, &mut rng).unwrap(),
            aws.rsa_raw(&odd, &mut rng).unwrap()
        );
    }
}
