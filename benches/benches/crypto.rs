//! Layer 1: the crypto backends on their own, one criterion group per comparison.
//!
//! - `rsa2048_sign_pkcs1v15`: a PKCS#1 v1.5 signature over the SHA-256 DigestInfo of the
//!   same digest: softcard's RustCrypto and aws-lc backends
//!   (`PrivateKeyOps::rsa_sign_pkcs1v15`), OpenSSL (`RSA_private_encrypt` with PKCS#1
//!   padding over the DigestInfo, on the same key) and SoftHSM2 (`C_Sign` with
//!   `CKM_RSA_PKCS` over the DigestInfo).
//! - `rsa2048_private_raw`: the bare private operation (`m^d mod n`) on a padded block.
//! - `p256_ecdsa_sign`: ECDSA P-256 over the digest.
//! - `rsa2048_keygen`: key generation (10 samples: slow and widely spread).
//!
//! SoftHSM2 gets a private token: this program writes a `softhsm2.conf` whose
//! `directories.tokendir` is a temporary folder and runs itself again with
//! `SOFTHSM2_CONF` naming it. Without the library the SoftHSM2 benchmarks are skipped.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use openssl::bn::{BigNum, BigNumContext};
use openssl::rsa::{Padding, Rsa};
use softcard::crypto::{BackendKind, KeyAlgorithm, KeyMaterial, PrivateKey};
use softcard_benches::{RSA2048_LEN, backend_label, digest, digest_info, pkcs1_block};

/// Where Debian installs SoftHSM2's PKCS#11 module; `SOFTCARD_SOFTHSM2_LIB` overrides it.
const SOFTHSM2_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Set in the child run to the token folder the parent made.
const TOKEN_DIR_VAR: &str = "SOFTCARD_BENCH_TOKEN_DIR";

fn softhsm2_lib() -> String {
    std::env::var("SOFTCARD_SOFTHSM2_LIB").unwrap_or_else(|_| SOFTHSM2_LIB.to_owned())
}

/// Runs this benchmark again with `SOFTHSM2_CONF` pointing at a configuration with a
/// private token folder, and exits with its status. Returns (to run the benchmarks here)
/// when that is already done or SoftHSM2 is not installed.
fn with_private_softhsm2_token() {
    if std::env::var_os(TOKEN_DIR_VAR).is_some() || !Path::new(&softhsm2_lib()).exists() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("the token folder");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(std::env::args_os().skip(1))
        .env("SOFTHSM2_CONF", &conf)
        .env(TOKEN_DIR_VAR, &tokens)
        .status()
        .expect("running the benchmarks with SoftHSM2");
    drop(dir);
    std::process::exit(status.code().unwrap_or(1));
}

/// A SoftHSM2 token initialized for the benchmark, logged in, holding an RSA-2048 pair.
struct SoftHsm {
    session: Session,
    private: ObjectHandle,
    _pkcs11: Pkcs11,
}

impl SoftHsm {
    /// `None` (with a note) when the private token is not set up.
    fn open() -> Option<SoftHsm> {
        if std::env::var_os(TOKEN_DIR_VAR).is_none() {
            eprintln!(
                "note: SoftHSM2 ({}) not found: its benchmarks are skipped",
                softhsm2_lib()
            );
            return None;
        }
        let pkcs11 = Pkcs11::new(softhsm2_lib()).expect("loading SoftHSM2");
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        let slot = pkcs11.get_all_slots().expect("C_GetSlotList")[0];
        let so_pin = AuthPin::new("bench-so-pin".into());
        let user_pin = AuthPin::new("12345678".into());
        pkcs11
            .init_token(slot, &so_pin, "softcard-bench")
            .expect("C_InitToken");
        // C_InitToken moves the token to a new slot id: look it up again.
        let slot = pkcs11.get_slots_with_token().expect("C_GetSlotList")[0];
        let session = pkcs11.open_rw_session(slot).expect("C_OpenSession");
        session
            .login(UserType::So, Some(&so_pin))
            .expect("C_Login (SO)");
        session.init_pin(&user_pin).expect("C_InitPIN");
        session.logout().expect("C_Logout");
        session
            .login(UserType::User, Some(&user_pin))
            .expect("C_Login (user)");
        let public_template = [
            Attribute::Token(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Verify(true),
        ];
        let private_template = [
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
        ];
        let (_, private) = session
            .generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &public_template,
                &private_template,
            )
            .expect("C_GenerateKeyPair");
        Some(SoftHsm {
            session,
            private,
            _pkcs11: pkcs11,
        })
    }

    fn sign(&self, mechanism: &Mechanism, data: &[u8]) -> Vec<u8> {
        self.session
            .sign(mechanism, self.private, data)
            .expect("C_Sign")
    }
}

/// The same RSA key in OpenSSL (CRT parameters computed from p, q, d).
fn openssl_rsa(material: &KeyMaterial) -> Rsa<openssl::pkey::Private> {
    let KeyMaterial::Rsa { n, e, d, p, q } = material else {
        panic!("an RSA key was expected");
    };
    let big = |b: &[u8]| BigNum::from_slice(b).expect("a number");
    let (d_, p_, q_) = (big(d), big(p), big(q));
    let mut ctx = BigNumContext::new().expect("a context");
    let one = BigNum::from_u32(1).expect("1");
    let (mut p1, mut q1) = (BigNum::new().expect("bn"), BigNum::new().expect("bn"));
    p1.checked_sub(&p_, &one).expect("p - 1");
    q1.checked_sub(&q_, &one).expect("q - 1");
    let (mut dmp1, mut dmq1, mut iqmp) = (
        BigNum::new().expect("bn"),
        BigNum::new().expect("bn"),
        BigNum::new().expect("bn"),
    );
    dmp1.nnmod(&d_, &p1, &mut ctx).expect("d mod p-1");
    dmq1.nnmod(&d_, &q1, &mut ctx).expect("d mod q-1");
    iqmp.mod_inverse(&q_, &p_, &mut ctx).expect("q^-1 mod p");
    Rsa::from_private_components(big(n), big(e), d_, p_, q_, dmp1, dmq1, iqmp)
        .expect("an OpenSSL key")
}

fn openssl_private(rsa: &Rsa<openssl::pkey::Private>, input: &[u8], padding: Padding) -> Vec<u8> {
    let mut out = vec![0u8; RSA2048_LEN];
    let len = rsa
        .private_encrypt(input, &mut out, padding)
        .expect("RSA_private_encrypt");
    out.truncate(len);
    out
}

fn backends() -> Vec<BackendKind> {
    BackendKind::available()
}

fn rsa_benches(c: &mut Criterion, hsm: Option<&SoftHsm>) {
    let mut rng = softcard::seeded_rng(7);
    let key = PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::Rsa2048, &mut rng)
        .expect("a key");
    let info = digest_info();
    let block = pkcs1_block(&info, RSA2048_LEN);
    let ossl = openssl_rsa(key.material());
    let reference = openssl_private(&ossl, &info, Padding::PKCS1);

    let mut group = c.benchmark_group("rsa2048_sign_pkcs1v15");
    for backend in backends() {
        let key = key.with_backend(backend).expect("the key in this backend");
        assert_eq!(
            key.rsa_sign_pkcs1v15(&info, &mut rng).expect("sign"),
            reference,
            "{backend:?} = OpenSSL"
        );
        group.bench_function(backend_label(backend), |b| {
            b.iter(|| {
                key.rsa_sign_pkcs1v15(black_box(&info), &mut rng)
                    .expect("sign")
            })
        });
    }
    group.bench_function("OpenSSL", |b| {
        b.iter(|| openssl_private(&ossl, black_box(&info), Padding::PKCS1))
    });
    if let Some(hsm) = hsm {
        assert_eq!(hsm.sign(&Mechanism::RsaPkcs, &info).len(), RSA2048_LEN);
        group.bench_function("SoftHSM2", |b| {
            b.iter(|| hsm.sign(&Mechanism::RsaPkcs, black_box(&info)))
        });
        group.bench_function("SoftHSM2 SHA256_RSA_PKCS", |b| {
            b.iter(|| {
                hsm.sign(
                    &Mechanism::Sha256RsaPkcs,
                    black_box(softcard_benches::MESSAGE),
                )
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("rsa2048_private_raw");
    for backend in backends() {
        let key = key.with_backend(backend).expect("the key in this backend");
        assert_eq!(key.rsa_raw(&block, &mut rng).expect("raw"), reference);
        group.bench_function(backend_label(backend), |b| {
            b.iter(|| key.rsa_raw(black_box(&block), &mut rng).expect("raw"))
        });
    }
    assert_eq!(openssl_private(&ossl, &block, Padding::NONE), reference);
    group.bench_function("OpenSSL", |b| {
        b.iter(|| openssl_private(&ossl, black_box(&block), Padding::NONE))
    });
    if let Some(hsm) = hsm {
        group.bench_function("SoftHSM2", |b| {
            b.iter(|| hsm.sign(&Mechanism::RsaX509, black_box(&block)))
        });
    }
    group.finish();
}

fn ecdsa_benches(c: &mut Criterion) {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;
    let mut rng = softcard::seeded_rng(8);
    let digest = digest();
    let mut group = c.benchmark_group("p256_ecdsa_sign");
    for backend in backends() {
        let key = PrivateKey::generate(backend, KeyAlgorithm::P256, &mut rng).expect("a key");
        group.bench_function(backend_label(backend), |b| {
            b.iter(|| key.ecdsa_sign(black_box(&digest), &mut rng).expect("sign"))
        });
    }
    let curve = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    let key = EcKey::generate(&curve).expect("a key");
    group.bench_function("OpenSSL", |b| {
        b.iter(|| {
            EcdsaSig::sign(black_box(&digest), &key)
                .expect("sign")
                .to_der()
                .expect("DER")
        })
    });
    group.finish();
}

fn keygen_benches(c: &mut Criterion) {
    let mut rng = softcard::seeded_rng(9);
    let mut group: BenchmarkGroup<'_, WallTime> = c.benchmark_group("rsa2048_keygen");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15));
    for backend in backends() {
        group.bench_function(backend_label(backend), |b| {
            b.iter(|| {
                PrivateKey::generate(backend, KeyAlgorithm::Rsa2048, &mut rng).expect("keygen")
            })
        });
    }
    group.bench_function("OpenSSL", |b| {
        b.iter(|| Rsa::generate(2048).expect("keygen"))
    });
    group.finish();
}

fn main() {
    with_private_softhsm2_token();
    let hsm = SoftHsm::open();
    let mut c = Criterion::default().configure_from_args();
    rsa_benches(&mut c, hsm.as_ref());
    ecdsa_benches(&mut c);
    keygen_benches(&mut c);
    c.final_summary();
}
