//! Key material is checked before any backend sees it: garbage is refused with
//! [`CryptoError::InvalidKey`], never a panic.

use std::sync::OnceLock;

use proptest::prelude::*;
use softcard::crypto::{BackendKind, CryptoError, KeyAlgorithm, KeyMaterial, PrivateKey};
use softcard::seeded_rng;

fn rsa(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> KeyMaterial {
    KeyMaterial::Rsa {
        n: n.into(),
        e: e.into(),
        d: d.into(),
        p: p.into(),
        q: q.into(),
    }
}

/// A real RSA-1024 key's parts: n, e, d, p, q (generated once).
fn parts() -> [Vec<u8>; 5] {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        PrivateKey::generate(
            BackendKind::RustCrypto,
            KeyAlgorithm::Rsa1024,
            &mut seeded_rng(6),
        )
        .unwrap()
    });
    let KeyMaterial::Rsa { n, e, d, p, q } = key.material() else {
        panic!("not RSA")
    };
    [n.clone(), e.clone(), d.clone(), p.clone(), q.clone()]
}

/// Refused by the cheap checks, and so by every backend.
fn refused_early(m: KeyMaterial) {
    assert_eq!(m.validate(), Err(CryptoError::InvalidKey), "{m:?}");
    refused(m);
}

/// Refused by every backend.
fn refused(m: KeyMaterial) {
    for backend in BackendKind::available() {
        assert_eq!(
            PrivateKey::from_material(backend, m.clone()).err(),
            Some(CryptoError::InvalidKey),
            "{m:?} with {backend:?}"
        );
    }
}

#[test]
fn empty_and_zero_numbers_are_refused() {
    refused_early(rsa(&[], &[], &[], &[], &[]));
    refused_early(rsa(&[0; 128], &[0], &[0], &[0], &[0]));
    let [n, e, d, p, q] = parts();
    refused_early(rsa(&[], &e, &d, &p, &q));
    refused_early(rsa(&n, &[], &d, &p, &q));
    refused_early(rsa(&n, &e, &[], &p, &q));
    refused_early(rsa(&n, &e, &d, &[], &q));
    refused_early(rsa(&n, &e, &d, &p, &[0]));
    assert_eq!(
        rsa(&[], &e, &d, &p, &q).algorithm(),
        Err(CryptoError::InvalidKey)
    );
    refused_early(KeyMaterial::P256 { d: vec![] });
    refused_early(KeyMaterial::P256 { d: vec![0; 32] });
    refused_early(KeyMaterial::P384 { d: vec![] });
    refused_early(KeyMaterial::P384 { d: vec![0; 48] });
}

#[test]
fn unsupported_sizes_and_exponents_are_refused() {
    let [n, e, d, p, q] = parts();
    assert!(rsa(&n, &e, &d, &p, &q).validate().is_ok());
    // 1023 and 1032 bits
    let mut short = n.clone();
    short[0] = 0x7F;
    refused_early(rsa(&short, &e, &d, &p, &q));
    let mut long = vec![1];
    long.extend_from_slice(&n);
    refused_early(rsa(&long, &e, &d, &p, &q));
    // an even modulus
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xFE;
    refused_early(rsa(&even, &e, &d, &p, &q));
    // e even, 1, or beyond 2^33 - 1
    refused_early(rsa(&n, &[1, 0, 0], &d, &p, &q));
    refused_early(rsa(&n, &[1], &d, &p, &q));
    refused_early(rsa(&n, &[2, 0, 0, 0, 1], &d, &p, &q));
    // d not below n
    refused_early(rsa(&n, &e, &n, &p, &q));
    // p * q != n
    refused_early(rsa(&n, &e, &d, &p, &p));
    let mut other = q.clone();
    *other.last_mut().unwrap() ^= 2;
    refused_early(rsa(&n, &e, &d, &p, &other));
    // EC scalars of the wrong length, or not below the order
    refused_early(KeyMaterial::P256 { d: vec![1; 31] });
    refused_early(KeyMaterial::P256 { d: vec![0xff; 32] });
    refused_early(KeyMaterial::P384 { d: vec![1; 32] });
    refused_early(KeyMaterial::P384 { d: vec![1; 47] });
    refused_early(KeyMaterial::P384 { d: vec![0xff; 48] });
    assert_eq!(
        KeyMaterial::P384 { d: vec![1; 48] }.validate(),
        Ok(KeyAlgorithm::P384)
    );
}

#[test]
fn leading_zeros_do_not_change_the_size() {
    let [n, e, d, p, q] = parts();
    let mut padded = vec![0, 0];
    padded.extend_from_slice(&n);
    assert_eq!(
        rsa(&padded, &e, &d, &p, &q).algorithm(),
        Ok(KeyAlgorithm::Rsa1024)
    );
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(Just(0u8), 0..4),
        proptest::collection::vec(any::<u8>(), 0..max),
    ]
}

/// A modulus of a supported size (often), with garbage in it.
fn modulus() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(600),
        (prop_oneof![Just(128usize), Just(256)], any::<u64>()).prop_map(|(len, seed)| {
            let mut v: Vec<u8> = (0..len)
                .map(|i| (seed.rotate_left(i as u32 % 64) as u8) | 1)
                .collect();
            v[0] |= 0x80;
            v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random RSA, P-256 and P-384 material: refused or accepted, never a panic.
    #[test]
    fn garbage_material_never_panics(
        n in modulus(),
        e in prop_oneof![bytes(10), Just(vec![1, 0, 1]), Just(vec![3])],
        d in bytes(300),
        p in bytes(140),
        q in bytes(140),
        scalar in bytes(56),
    ) {
        let m = rsa(&n, &e, &d, &p, &q);
        let _ = m.algorithm();
        let valid = m.validate();
        for backend in BackendKind::available() {
            let loaded = PrivateKey::from_material(backend, m.clone());
            if valid.is_err() {
                prop_assert_eq!(loaded.err(), Some(CryptoError::InvalidKey));
            }
            let _ = PrivateKey::from_material(backend, KeyMaterial::P256 { d: scalar.clone() });
            let _ = PrivateKey::from_material(backend, KeyMaterial::P384 { d: scalar.clone() });
        }
    }

    /// A real key with one of its numbers damaged: refused, never a panic.
    #[test]
    fn damaged_real_material_is_refused(which in 0usize..5, at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut parts = parts();
        let part = &mut parts[which];
        let i = at.index(part.len());
        part[i] ^= 1 << bit;
        let [n, e, d, p, q] = parts;
        refused(rsa(&n, &e, &d, &p, &q));
    }
}
