//! The card-driving client against in-process virtual cards (GIDS and PIV): enrollment
//! judged by OpenSSL, certificate installation and refusal, PIN failures, signatures.

#[allow(dead_code)]
#[path = "../openssl/support/mod.rs"]
mod support;

use softcard::{Card, CardOptions, NoStorage, Profile, seeded_rng};
use softcard_enroll::testca::{TestCa, verify_signature};
use softcard_enroll::{
    Application, CardClient, ContainerName, EnrollError, HashAlg, KeyAlgorithm, KeyRequest,
    KeySpec, RequestFormat, RequestOptions, SignatureAlgorithm, Unblock,
};
use softcard_test_support::openssl;
use support::Scratch;

fn client(profile: Profile) -> CardClient<Card> {
    let card = Card::create_seeded(&CardOptions::new(profile), 7, Box::new(NoStorage)).unwrap();
    CardClient::connect(card).unwrap()
}

fn key(algorithm: KeyAlgorithm) -> KeyRequest {
    KeyRequest {
        container: ContainerName::Automatic,
        algorithm,
        key_spec: KeySpec::Exchange,
    }
}

/// Enroll, let OpenSSL verify and issue, install, read back, refuse a foreign certificate,
/// and check a signature by the card with OpenSSL.
fn enroll_issue_install(profile: Profile, algorithm: KeyAlgorithm) {
    let s = Scratch::new();
    let mut c = client(profile);
    let mut options = RequestOptions::smartcard_user("CN=Jane Doe,O=Example");
    options.hash = HashAlg::Sha256;
    c.verify_pin(b"12345678").unwrap();
    let (container, request) = c
        .enroll(
            &key(algorithm),
            RequestFormat::Pkcs10,
            &options,
            &mut seeded_rng(2),
        )
        .unwrap();
    let req = s.write("req.der", &request.der);
    s.verified_request(&req, &[]);
    s.make_ca();
    s.issue(&req, "cert.pem");
    let cert = c
        .install_certificate(&container, &s.read("cert.pem"))
        .unwrap();
    let back = c.read_certificate(&container).unwrap().expect("stored");
    assert_eq!(back.der(), cert.der());
    let listed = c.container(&container.name).unwrap();
    assert!(listed.has_certificate);
    assert_eq!(listed.public_key, container.public_key);

    // A certificate for another key is refused and the stored one stays.
    s.openssl_ok(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "o.key",
        "-subj",
        "/CN=Other",
        "-outform",
        "DER",
        "-out",
        "other.der",
    ]);
    s.issue(&s.path("other.der"), "other.pem");
    let refused = c.install_certificate(&container, &s.read("other.pem"));
    assert!(
        matches!(
            refused,
            Err(EnrollError::NoMatchingCertificate { candidates: 1 })
        ),
        "{refused:?}"
    );
    assert_eq!(c.read_certificate(&container).unwrap().unwrap(), back);

    // A signature by the card verifies with the certificate's key.
    let message = b"logon challenge";
    let sig = c.sign(&container, message, HashAlg::Sha256).unwrap();
    let alg = SignatureAlgorithm::for_key(&container.public_key, HashAlg::Sha256).unwrap();
    verify_signature(&container.public_key, alg, message, &sig).unwrap();
    assert!(verify_signature(&container.public_key, alg, b"other", &sig).is_err());
    s.write("msg", message);
    s.write("sig", &sig);
    let d = s.path("");
    assert!(
        openssl::public_key_of(&d, "cert.pem", "pub.pem")
            .status
            .success()
    );
    let out = openssl::dgst_verify(&d, "pub.pem", "sig", "msg");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("Verified OK"),
        "{said}"
    );

    // After a reset the PIN is needed again.
    let mut card = c.into_transport();
    card.reset();
    let mut c = CardClient::connect(card).unwrap();
    let e = c.sign(&container, message, HashAlg::Sha256).unwrap_err();
    assert!(matches!(e, EnrollError::Card { sw: 0x6982, .. }), "{e:?}");
}

#[test]
fn gids_rsa2048_enroll_issue_install() {
    enroll_issue_install(Profile::WindowsVsc, KeyAlgorithm::Rsa2048);
}

#[test]
fn piv_rsa2048_enroll_issue_install() {
    enroll_issue_install(Profile::Piv, KeyAlgorithm::Rsa2048);
}

#[test]
fn piv_p256_enroll_issue_install() {
    enroll_issue_install(Profile::Piv, KeyAlgorithm::P256);
}

#[test]
fn piv_p384_enroll_issue_install() {
    enroll_issue_install(Profile::Piv, KeyAlgorithm::P384);
}

#[test]
fn gids_containers_as_windows_names_them() {
    let mut c = client(Profile::WindowsVsc);
    assert_eq!(c.application(), Application::Gids);
    c.verify_pin(b"12345678").unwrap();
    let first = c
        .create_key(&key(KeyAlgorithm::Rsa1024), &mut seeded_rng(3))
        .unwrap();
    let name = &first.name;
    assert_eq!(name.len(), 38, "{name}");
    assert!(name.starts_with('{') && name.ends_with('}') && name.matches('-').count() == 4);
    let named = KeyRequest {
        container: ContainerName::Named("my key".into()),
        algorithm: KeyAlgorithm::Rsa1024,
        key_spec: KeySpec::Signature,
    };
    let second = c.create_key(&named, &mut seeded_rng(4)).unwrap();
    assert_eq!(second.key_reference, 0x82);
    assert!(matches!(
        c.create_key(&named, &mut seeded_rng(4)),
        Err(EnrollError::ContainerExists(_))
    ));
    let p256 = KeyRequest {
        container: ContainerName::Automatic,
        ..key(KeyAlgorithm::P256)
    };
    assert!(matches!(
        c.create_key(&p256, &mut seeded_rng(5)),
        Err(EnrollError::Unsupported(_))
    ));
    let all = c.containers().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[1].name.as_str(), all[1].key_spec),
        ("my key", KeySpec::Signature)
    );
    let described = c.into_transport().description();
    let containers = &described.gids().unwrap().containers;
    assert!(
        containers.iter().any(|c| (
            c.index,
            c.name.as_str(),
            c.signature_bits,
            c.key_exchange_bits,
            c.default
        ) == (0, name.as_str(), 0, 1024, true)),
        "{containers:?}"
    );
    assert!(
        containers
            .iter()
            .any(|c| (c.index, c.name.as_str(), c.signature_bits) == (1, "my key", 1024)),
        "{containers:?}"
    );
}

fn wrong_pin_then_blocked(profile: Profile) {
    let mut c = client(profile);
    let e = c.verify_pin(b"00000000").unwrap_err();
    assert!(
        matches!(
            e,
            EnrollError::WrongPin {
                what: "PIN",
                tries_left: 2
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("63C2") && e.to_string().contains("2 tries left"),
        "{e}"
    );
    c.verify_pin(b"00000000").unwrap_err();
    let e = c.verify_pin(b"00000000").unwrap_err();
    assert!(
        matches!(
            e,
            EnrollError::WrongPin { tries_left: 0, .. } | EnrollError::PinBlocked { .. }
        ),
        "{e:?}"
    );
    let e = c.verify_pin(b"12345678").unwrap_err();
    assert!(
        matches!(e, EnrollError::PinBlocked { what: "PIN" }),
        "{e:?}"
    );
    assert!(e.to_string().contains("6983"));
    let wrong = [9u8; 24];
    match profile {
        Profile::Piv => {
            let e = c
                .unblock_pin(Unblock::Puk(b"00000000"), b"11112222")
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    EnrollError::WrongPin {
                        what: "PUK",
                        tries_left: 2
                    }
                ),
                "{e:?}"
            );
            c.unblock_pin(Unblock::Puk(b"12345678"), b"11112222")
                .unwrap();
        }
        _ => {
            let e = c
                .unblock_pin(Unblock::AdminKey(&wrong), b"11112222")
                .unwrap_err();
            assert!(
                matches!(e, EnrollError::AdminAuthentication { .. }),
                "{e:?}"
            );
            let key = softcard::profile::DEFAULT_ADMIN_KEY;
            c.unblock_pin(Unblock::AdminKey(&key), b"11112222").unwrap();
        }
    }
    c.verify_pin(b"11112222").unwrap();
    c.change_pin(b"11112222", b"33334444").unwrap();
    let e = c.change_pin(b"11112222", b"55556666").unwrap_err();
    assert!(matches!(e, EnrollError::WrongPin { .. }), "{e:?}");
    c.verify_pin(b"33334444").unwrap();
}

#[test]
fn gids_wrong_pin_blocked_unblocked_with_admin_key() {
    wrong_pin_then_blocked(Profile::WindowsVsc);
}

#[test]
fn piv_wrong_pin_blocked_unblocked_with_puk() {
    wrong_pin_then_blocked(Profile::Piv);
}

#[test]
fn test_ca_issues_from_a_cmc_request_signed_by_the_card() {
    let s = Scratch::new();
    let mut c = client(Profile::WindowsVsc);
    c.verify_pin(b"12345678").unwrap();
    let options = RequestOptions::smartcard_user("CN=Jane Doe");
    let (container, request) = c
        .enroll(
            &key(KeyAlgorithm::Rsa2048),
            RequestFormat::Cmc,
            &options,
            &mut seeded_rng(6),
        )
        .unwrap();
    let mut rng = seeded_rng(8);
    let ca = TestCa::new(&mut rng).unwrap();
    let cert = ca.issue(&request.der, &mut rng).unwrap();
    assert!(cert.certifies(&container.public_key));
    s.write("ca.pem", ca.certificate().to_pem().as_bytes());
    s.write("ee.pem", cert.to_pem().as_bytes());
    let out = s.openssl_ok(&["verify", "-CAfile", "ca.pem", "ee.pem"]);
    assert!(out.contains("ee.pem: OK"), "{out}");
    let text = s.openssl_ok(&["x509", "-in", "ee.pem", "-noout", "-text"]);
    assert!(
        text.contains("Microsoft Smartcard Login") || text.contains("1.3.6.1.4.1.311.20.2.2"),
        "{text}"
    );
    // A request whose signature is broken is refused.
    let mut broken = request.der.clone();
    let last = broken.len() - 1;
    broken[last] ^= 1;
    let mut csr = options.clone();
    csr.hash = HashAlg::Sha256;
    assert!(
        ca.issue(&broken, &mut rng).is_ok(),
        "CMC outer signature is not what the CA checks"
    );
    let (_, p10) = c
        .enroll(
            &KeyRequest {
                container: ContainerName::Named("x".into()),
                ..key(KeyAlgorithm::Rsa1024)
            },
            RequestFormat::Pkcs10,
            &csr,
            &mut rng,
        )
        .unwrap();
    let mut bad = p10.der.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        ca.issue(&bad, &mut rng),
        Err(EnrollError::BadSignature)
    ));
    c.install_certificate(&container, cert.to_pem().as_bytes())
        .unwrap();
}

/// `cardcf` (EF A010, DO DF22) read with GET DATA, as the minidriver reads it.
fn cardcf(card: &mut Card) -> softcard::gids::minidriver::CardCf {
    let r = card.transmit(&[0x00, 0xCB, 0xA0, 0x10, 0x04, 0x5C, 0x02, 0xDF, 0x22, 0x00]);
    assert_eq!(r[r.len() - 2..], [0x90, 0x00], "{r:02X?}");
    assert_eq!(r[..3], [0xDF, 0x22, 0x06], "{r:02X?}");
    softcard::gids::minidriver::CardCf::parse(&r[3..9]).unwrap()
}

#[test]
fn gids_pin_change_and_unblock_bump_the_cardcf_pin_freshness() {
    let mut card = Card::create_seeded(
        &CardOptions::new(Profile::WindowsVsc),
        7,
        Box::new(NoStorage),
    )
    .unwrap();
    let start = cardcf(&mut card);
    let mut c = CardClient::connect(&mut card).unwrap();
    c.change_pin(b"12345678", b"11112222").unwrap();
    drop(c);
    let changed = cardcf(&mut card);
    assert_eq!(
        changed.pins,
        start.pins.wrapping_add(1),
        "{start:?} -> {changed:?}"
    );
    assert_eq!(
        (changed.containers, changed.files),
        (start.containers, start.files)
    );

    // A refused new PIN changes nothing.
    let mut c = CardClient::connect(&mut card).unwrap();
    let e = c.change_pin(b"11112222", b"12").unwrap_err();
    assert!(
        matches!(e, EnrollError::NewPinRefused { sw: 0x6A80, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("8 to 127"), "{e}");
    drop(c);
    assert_eq!(cardcf(&mut card).pins, changed.pins);

    let mut c = CardClient::connect(&mut card).unwrap();
    for _ in 0..3 {
        c.verify_pin(b"00000000").unwrap_err();
    }
    let admin = softcard::profile::DEFAULT_ADMIN_KEY;
    c.unblock_pin(Unblock::AdminKey(&admin), b"33334444")
        .unwrap();
    // The unblock left the new PIN verified: a key can be created at once.
    c.create_key(&key(KeyAlgorithm::Rsa1024), &mut seeded_rng(3))
        .unwrap();
    drop(c);
    let unblocked = cardcf(&mut card);
    assert_eq!(unblocked.pins, changed.pins.wrapping_add(1));
    let mut c = CardClient::connect(&mut card).unwrap();
    c.verify_pin(b"33334444").unwrap();
}

#[test]
fn gids_aes192_admin_key_unblocks_when_its_algorithm_is_told() {
    use softcard::crypto::sym::SymAlg;
    let admin = [0x5Au8; 24];
    let mut options = CardOptions::new(Profile::WindowsVsc);
    options.admin_key = Some(softcard::Secret::from_slice(&admin));
    options.admin_key_aes = true;
    let card = Card::create_seeded(&options, 7, Box::new(NoStorage)).unwrap();
    let mut c = CardClient::connect(card).unwrap();
    // 24 bytes alone are 3DES: refused, and the error says the card wants AES.
    let e = c
        .unblock_pin(Unblock::AdminKey(&admin), b"11112222")
        .unwrap_err();
    assert!(
        matches!(e, EnrollError::AdminAuthentication { .. }) && e.to_string().contains("AES-192"),
        "{e}"
    );
    let e = c
        .unblock_pin(Unblock::AdminKeyWith(SymAlg::Tdes, &admin), b"11112222")
        .unwrap_err();
    assert!(
        matches!(e, EnrollError::AdminAuthentication { .. }),
        "{e:?}"
    );
    c.unblock_pin(Unblock::AdminKeyWith(SymAlg::Aes192, &admin), b"11112222")
        .unwrap();
    c.verify_pin(b"11112222").unwrap();
    // A 3DES card's challenge does not fit an AES-192 key.
    let mut c = client(Profile::WindowsVsc);
    let e = c
        .unblock_pin(
            Unblock::AdminKeyWith(SymAlg::Aes192, &softcard::profile::DEFAULT_ADMIN_KEY),
            b"11112222",
        )
        .unwrap_err();
    assert!(
        matches!(e, EnrollError::Unsupported(_)) && e.to_string().contains("3DES"),
        "{e:?}"
    );
}

#[test]
fn piv_cmc_request_signed_by_the_pin_always_slot_9c() {
    let mut c = client(Profile::Piv);
    c.verify_pin(b"12345678").unwrap();
    let request = KeyRequest {
        container: ContainerName::Named("9C".into()),
        algorithm: KeyAlgorithm::Rsa2048,
        key_spec: KeySpec::Signature,
    };
    let options = RequestOptions::smartcard_user("CN=Jane Doe");
    let (container, cmc) = c
        .enroll(&request, RequestFormat::Cmc, &options, &mut seeded_rng(4))
        .unwrap();
    assert_eq!(container.name, "9C");
    let mut rng = seeded_rng(5);
    let ca = TestCa::new(&mut rng).unwrap();
    let cert = ca.issue(&cmc.der, &mut rng).unwrap();
    assert!(cert.certifies(&container.public_key));
    // Each signature of the slot is preceded by its own VERIFY.
    let sig = c.sign(&container, b"challenge", HashAlg::Sha256).unwrap();
    let alg = SignatureAlgorithm::for_key(&container.public_key, HashAlg::Sha256).unwrap();
    verify_signature(&container.public_key, alg, b"challenge", &sig).unwrap();
    c.sign(&container, b"again", HashAlg::Sha256).unwrap();

    // Without a verified PIN the slot refuses, as the card says.
    let mut fresh = client(Profile::Piv);
    fresh.verify_pin(b"12345678").unwrap();
    let (nine_c, _) = fresh
        .enroll(
            &request,
            RequestFormat::Pkcs10,
            &options,
            &mut seeded_rng(4),
        )
        .unwrap();
    let mut unverified = CardClient::connect(fresh.into_transport()).unwrap();
    let e = unverified.sign(&nine_c, b"x", HashAlg::Sha256).unwrap_err();
    assert!(e.to_string().contains("6982"), "{e}");
}

#[test]
fn enroll_checks_everything_before_creating_a_key() {
    for profile in [Profile::WindowsVsc, Profile::Piv] {
        let mut c = client(profile);
        c.verify_pin(b"12345678").unwrap();
        let bad_subject = RequestOptions::smartcard_user("garbage no equals");
        let mut bad_upn = RequestOptions::smartcard_user("CN=Jane");
        bad_upn.upn = Some("no-at-sign".into());
        let good = RequestOptions::smartcard_user("CN=Jane");
        let bad_container = KeyRequest {
            container: ContainerName::Named("x".repeat(40)),
            ..key(KeyAlgorithm::Rsa2048)
        };
        let rsa = key(KeyAlgorithm::Rsa2048);
        let cases = [
            (&rsa, &bad_subject, "invalid subject name"),
            (&rsa, &bad_upn, "invalid request option: UPN"),
            (&bad_container, &good, "unsupported"),
        ];
        for (request, options, expected) in cases {
            let e = c
                .enroll(request, RequestFormat::Cmc, options, &mut seeded_rng(1))
                .unwrap_err();
            assert!(e.to_string().starts_with(expected), "{profile:?}: {e}");
        }
        assert!(
            c.containers().unwrap().is_empty(),
            "{profile:?}: no key left"
        );
    }
    let mut c = client(Profile::WindowsVsc);
    c.verify_pin(b"12345678").unwrap();
    for ec in [KeyAlgorithm::P256, KeyAlgorithm::P384] {
        let e = c.check_key_request(&key(ec)).unwrap_err();
        assert!(matches!(e, EnrollError::Unsupported(_)), "{e:?}");
    }
}
