//! Requests pinned byte for byte: keys made from a seeded generator sign deterministic
//! requests, which must encode exactly as the files in `tests/data/requests` (made when
//! the encoders moved to the RustCrypto format crates, so that the move changed no byte).
//! `SOFTCARD_BLESS=1` writes the files again.

use rand_core::SeedableRng as _;
use softcard::crypto::{BackendKind, KeyAlgorithm, PrivateKey};
use softcard_enroll::{HashAlg, KeySigner, KeySpec, RequestFormat, TemplateOid};

use crate::{build, options};

fn key(algorithm: KeyAlgorithm, seed: u64) -> PrivateKey {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate(BackendKind::RustCrypto, algorithm, &mut rng).expect("key")
}

fn check(name: &str, der: &[u8]) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/requests")
        .join(name);
    if std::env::var_os("SOFTCARD_BLESS").is_some() {
        std::fs::write(&path, der).expect("write golden request");
    }
    let golden = std::fs::read(&path).expect("golden request");
    assert!(golden == der, "{name} differs from its golden file");
}

#[test]
fn requests_encode_as_their_golden_files() {
    let rsa = key(KeyAlgorithm::Rsa2048, 11);
    let p256 = key(KeyAlgorithm::P256, 12);
    let p384 = key(KeyAlgorithm::P384, 13);
    let signer = |k| KeySigner::new(k, rand_chacha::ChaCha20Rng::seed_from_u64(5));

    let o = options();
    check(
        "rsa-sha1.p10.der",
        &build(RequestFormat::Pkcs10, &o, &mut signer(&rsa)),
    );
    check(
        "rsa-sha1.cmc.der",
        &build(RequestFormat::Cmc, &o, &mut signer(&rsa)),
    );

    let mut o = options();
    o.hash = HashAlg::Sha256;
    o.key_spec = KeySpec::Signature;
    o.subject = r"CN=a+UID=b,O=Example\, Inc.,DC=example,C=US,E=x@example.com".into();
    check(
        "p256-sha256.p10.der",
        &build(RequestFormat::Pkcs10, &o, &mut signer(&p256)),
    );
    check(
        "p256-sha256.cmc.der",
        &build(RequestFormat::Cmc, &o, &mut signer(&p256)),
    );

    let mut o = options();
    o.hash = HashAlg::Sha384;
    o.subject = String::new();
    o.template = None;
    o.template_oid = Some(TemplateOid {
        oid: "1.3.6.1.4.1.311.21.8.1234567.7654321.42".parse().unwrap(),
        major_version: 100,
        minor_version: 3,
    });
    o.csp = None;
    o.extended_key_usages.clear();
    check(
        "p384-sha384.cmc.der",
        &build(RequestFormat::Cmc, &o, &mut signer(&p384)),
    );
    check(
        "rsa-sha384.p10.der",
        &build(RequestFormat::Pkcs10, &o, &mut signer(&rsa)),
    );
}
