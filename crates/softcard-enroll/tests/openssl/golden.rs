//! Requests pinned byte for byte: keys made from a seeded generator sign deterministic
//! requests, which must encode exactly as the files in `tests/data/requests` (written by
//! the hand-written encoders before the move to the RustCrypto format crates, so that the
//! move changed no byte). `SOFTCARD_BLESS=1` writes a file that differs again, and still
//! fails the test: a golden file is changed on purpose, and the run after it checks it.

use rand_core::SeedableRng as _;
use softcard::crypto::{BackendKind, KeyAlgorithm, PrivateKey};
use softcard_enroll::{HashAlg, KeySigner, KeySpec, RequestFormat, RequestOptions};

use crate::{build, options, template_oid_options};

fn key(algorithm: KeyAlgorithm, seed: u64) -> PrivateKey {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    PrivateKey::generate(BackendKind::RustCrypto, algorithm, &mut rng).expect("key")
}

/// Builds the request in `format` with a fresh signer over `key` and compares it with the
/// golden file `{stem}.p10.der` or `{stem}.cmc.der`.
fn check(stem: &str, format: RequestFormat, options: &RequestOptions, key: &PrivateKey) {
    let mut signer = KeySigner::new(key, rand_chacha::ChaCha20Rng::seed_from_u64(5));
    let der = build(format, options, &mut signer);
    let name = match format {
        RequestFormat::Pkcs10 => format!("{stem}.p10.der"),
        RequestFormat::Cmc => format!("{stem}.cmc.der"),
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/requests")
        .join(&name);
    let golden = std::fs::read(&path).ok();
    if golden.as_deref() == Some(&der[..]) {
        return;
    }
    if std::env::var_os("SOFTCARD_BLESS").is_some() {
        std::fs::write(&path, &der).expect("write golden request");
        panic!("{name} written again: check the change, then run the tests without SOFTCARD_BLESS");
    }
    assert!(golden.is_some(), "{name}: no golden file");
    panic!("{name} differs from its golden file");
}

#[test]
fn requests_encode_as_their_golden_files() {
    let rsa = key(KeyAlgorithm::Rsa2048, 11);
    let p256 = key(KeyAlgorithm::P256, 12);
    let p384 = key(KeyAlgorithm::P384, 13);
    let both = [RequestFormat::Pkcs10, RequestFormat::Cmc];

    for format in both {
        check("rsa-sha1", format, &options(), &rsa);
    }

    let mut o = options();
    o.hash = HashAlg::Sha256;
    o.key_spec = KeySpec::Signature;
    o.subject = r"CN=a+UID=b,O=Example\, Inc.,DC=example,C=US,E=x@example.com".into();
    for format in both {
        check("p256-sha256", format, &o, &p256);
    }

    let mut o = template_oid_options();
    o.hash = HashAlg::Sha384;
    o.extended_key_usages.clear();
    check("p384-sha384", RequestFormat::Cmc, &o, &p384);
    check("rsa-sha384", RequestFormat::Pkcs10, &o, &rsa);
}
