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
    s.openssl_ok(&[
        "req", "-verify", "-noout", "-inform", "DER", "-in", "req.der",
    ]);
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
    s.openssl_ok(&[
        "x509", "-in", "cert.pem", "-pubkey", "-noout", "-out", "pub.pem",
    ]);
    let out = s.openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig",
        "msg",
    ]);
    assert!(out.contains("Verified OK"), "{out}");

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
    let described = c.into_transport().describe().join("\n");
    assert!(
        described.contains(&format!(
            "container 0 \"{name}\": signature 0 bits, key exchange 1024 bits, default"
        )),
        "{described}"
    );
    assert!(
        described.contains("container 1 \"my key\": signature 1024 bits"),
        "{described}"
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
