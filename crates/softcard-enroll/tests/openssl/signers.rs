//! Signers over softcard keys, in memory and shaped like card operations.

use rand_core::SeedableRng as _;
use softcard::crypto::{BackendKind, KeyAlgorithm, PrivateKey};
use softcard_enroll::{
    CardOperation, CardSigner, EnrollError, KeySigner, Request, RequestFormat, RequestSigner,
};

use crate::cmc::check_cmc;
use crate::support::{self, Scratch, nth_child};
use crate::{build, options};

#[test]
fn requests_signed_by_a_softcard_key_verify() {
    let dir = Scratch::new();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    for alg in [
        KeyAlgorithm::P256,
        KeyAlgorithm::P384,
        KeyAlgorithm::Rsa2048,
    ] {
        let key = PrivateKey::generate(BackendKind::RustCrypto, alg, &mut rng).expect("key");
        let mut signer = KeySigner::new(&key, rand_chacha::ChaCha20Rng::seed_from_u64(8));
        let o = options();
        let csr = build(RequestFormat::Pkcs10, &o, &mut signer);
        let path = dir.write("req.der", &csr);
        dir.verified_request(&path, &[]);
        let cmc = build(RequestFormat::Cmc, &o, &mut signer);
        check_cmc(&dir, &cmc, &csr);
    }
}

#[test]
fn card_shaped_operations_give_signatures_openssl_accepts() {
    let dir = Scratch::new();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let rsa =
        PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::Rsa2048, &mut rng).unwrap();
    let ec = PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::P256, &mut rng).unwrap();
    let fail = |e| EnrollError::Signer(Box::new(e));
    let check = |signer: &mut dyn RequestSigner, name: &str| {
        let csr = build(RequestFormat::Pkcs10, &options(), signer);
        let path = dir.write(name, &csr);
        dir.verified_request(&path, &[]);
    };

    // PIV: the host pads, the card does the raw RSA operation.
    let mut r1 = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut piv = CardSigner::new(
        rsa.public().clone(),
        CardOperation::RsaRaw,
        |block: &[u8]| {
            assert_eq!(block.len(), 256, "a modulus-length block goes to the card");
            rsa.rsa_raw(block, &mut r1).map_err(fail)
        },
    );
    check(&mut piv, "piv.der");

    // GIDS: the card pads a DigestInfo.
    let mut r2 = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let mut gids = CardSigner::new(
        rsa.public().clone(),
        CardOperation::RsaDigestInfo,
        |di: &[u8]| rsa.rsa_sign_pkcs1v15(di, &mut r2).map_err(fail),
    );
    check(&mut gids, "gids.der");

    // ECDSA answered as plain r || s.
    let mut r3 = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let mut ecdsa = CardSigner::new(
        ec.public().clone(),
        CardOperation::Ecdsa,
        |digest: &[u8]| {
            let der = ec.ecdsa_sign(digest, &mut r3).map_err(fail)?;
            Ok(raw_r_s(&der))
        },
    );
    check(&mut ecdsa, "ec.der");

    // The wrong operation for the key is refused, not sent.
    let mut wrong = CardSigner::new(
        ec.public().clone(),
        CardOperation::RsaRaw,
        |_: &[u8]| -> Result<Vec<u8>, EnrollError> { panic!("nothing may reach the card") },
    );
    assert!(matches!(
        Request::build(RequestFormat::Pkcs10, &options(), &mut wrong),
        Err(EnrollError::Signer(_))
    ));
}

/// `r ‖ s`, 32 bytes each, from a DER `Ecdsa-Sig-Value`.
fn raw_r_s(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..2 {
        let int = support::header(nth_child(der, i)).1;
        let int: Vec<u8> = int.iter().skip_while(|&&b| b == 0).copied().collect();
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend_from_slice(&int);
    }
    out
}
