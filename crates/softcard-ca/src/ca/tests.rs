//! The CA's decisions on requests made with softcard-enroll, and on enrollment agent
//! requests built here (the CMC shape Windows writes for "enroll on behalf of").

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::{Any, BmpString, OctetString, SetOfVec};
use der::{Decode as _, Encode as _};
use softcard::crypto::{BackendKind, HashAlg, KeyAlgorithm, PrivateKey};
use softcard_enroll::{KeySigner, Request, RequestFormat, RequestOptions, RequestSigner};
use x509_cert::attr::Attribute;
use x509_cert::request::CertReq;

use super::*;
use crate::submission::{
    CMC_ADD_ATTRIBUTES, CmcAddAttributes, NAME_VALUE_PAIR, NameValuePair, PKI_DATA, PkiData,
    TaggedAttribute, TaggedCertificationRequest, TaggedRequest,
};

type Rng = rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> Rng {
    softcard::seeded_rng(seed)
}

fn key(alg: KeyAlgorithm, seed: u64) -> PrivateKey {
    PrivateKey::generate(BackendKind::RustCrypto, alg, &mut rng(seed)).unwrap()
}

fn ca(seed: u64) -> Ca {
    Ca::new(TestCa::new(&mut rng(seed)).unwrap(), Template::builtin())
}

fn request(key: &PrivateKey, format: RequestFormat, template: Option<&str>) -> Vec<u8> {
    let mut options = RequestOptions::smartcard_user("CN=Jane Doe");
    options.template = template.map(ToString::to_string);
    let mut signer = KeySigner::new(key, rng(9));
    Request::build(format, &options, &mut signer).unwrap().der
}

fn decide(ca: &Ca, der: &[u8], form: &[(String, String)], approved: bool) -> Decision {
    match Submission::from_der(der) {
        Ok(s) => ca.decide(
            &s,
            &Context {
                user: Some("jane@example.test"),
                form_attributes: form,
                approved,
            },
            &mut rng(5),
        ),
        Err(refusal) => Decision::Denied(refusal),
    }
}

fn refusal(d: Decision) -> Refusal {
    match d {
        Decision::Denied(r) => r,
        other => panic!("not denied: {other:?}"),
    }
}

fn issued(d: Decision) -> x509_cert::Certificate {
    match d {
        Decision::Issued(c) => x509_cert::Certificate::from_der(c.der()).unwrap(),
        other => panic!("not issued: {other:?}"),
    }
}

fn extension<T: der::DecodeOwned>(cert: &x509_cert::Certificate, oid: ObjectIdentifier) -> T {
    let e = cert
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == oid)
        .unwrap();
    T::from_der(e.extn_value.as_bytes()).unwrap()
}

fn upn_of(cert: &x509_cert::Certificate) -> String {
    let san: SubjectAltName = extension(cert, SubjectAltName::OID);
    match &san.0[0] {
        GeneralName::OtherName(o) => o.value.decode_as::<String>().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn smartcard_user_gets_the_template_usages_and_the_upn() {
    let ca = ca(1);
    let user = key(KeyAlgorithm::Rsa2048, 2);
    for format in [RequestFormat::Pkcs10, RequestFormat::Cmc] {
        let cert = issued(decide(
            &ca,
            &request(&user, format, Some("SmartcardUser")),
            &[],
            false,
        ));
        let ekus: ExtendedKeyUsage = extension(&cert, ExtendedKeyUsage::OID);
        assert!(ekus.0.contains(&ObjectIdentifier::new_unwrap(
            crate::template::SMARTCARD_LOGON_EKU
        )));
        assert!(ekus.0.contains(&const_oid::db::rfc5280::ID_KP_CLIENT_AUTH));
        let usage: KeyUsage = extension(&cert, KeyUsage::OID);
        assert!(usage.digital_signature() && usage.key_encipherment());
        assert_eq!(upn_of(&cert), "jane@example.test");
        // Signed by the CA.
        let tbs = cert.tbs_certificate().to_der().unwrap();
        testca::verify_with_identifier(
            ca.certificate().public_key().unwrap(),
            cert.signature_algorithm().owned_to_ref(),
            &tbs,
            cert.signature().as_bytes().unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn the_form_template_wins_and_an_unknown_one_is_refused() {
    let ca = ca(1);
    let user = key(KeyAlgorithm::Rsa2048, 2);
    let der = request(&user, RequestFormat::Pkcs10, Some("SmartcardUser"));
    let form = vec![(
        "CertificateTemplate".to_string(),
        "NoSuchTemplate".to_string(),
    )];
    let r = refusal(decide(&ca, &der, &form, false));
    assert_eq!(r.hresult, 0x8009_4800);
    assert!(
        r.disposition()
            .starts_with("Denied by Policy Module  0x80094800, ")
    );
    let none = request(&user, RequestFormat::Pkcs10, None);
    assert_eq!(refusal(decide(&ca, &none, &[], false)).hresult, 0x8009_4801);
    let form = vec![("CertificateTemplate".to_string(), "user".to_string())];
    issued(decide(&ca, &none, &form, false));
}

#[test]
fn a_request_whose_key_is_swapped_fails_its_signature() {
    let ca = ca(1);
    let der = request(
        &key(KeyAlgorithm::Rsa2048, 2),
        RequestFormat::Pkcs10,
        Some("User"),
    );
    let mut csr = CertReq::from_der(&der).unwrap();
    let other = CertReq::from_der(&request(
        &key(KeyAlgorithm::Rsa2048, 3),
        RequestFormat::Pkcs10,
        Some("User"),
    ))
    .unwrap();
    csr.info.public_key = other.info.public_key;
    let r = refusal(decide(&ca, &csr.to_der().unwrap(), &[], false));
    assert_eq!(r.hresult, 0x8009_0006);
}

#[test]
fn a_cmc_request_signed_by_another_key_names_no_known_signer() {
    let ca = ca(1);
    let user = key(KeyAlgorithm::Rsa2048, 2);
    let other = key(KeyAlgorithm::Rsa2048, 3);
    let csr = CertReq::from_der(&request(&user, RequestFormat::Pkcs10, Some("User"))).unwrap();
    // Signed by `other`, named by `other`'s key identifier, no certificate.
    let der = cmc(csr.clone(), &[], &other, Signer::OwnKeyId, None);
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_100E);
    // Named as the request's key but signed by another: the signature fails.
    let ski = testca::key_identifier(user.public()).unwrap();
    let der = cmc(csr, &[], &other, Signer::KeyId(ski), None);
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_0006);
}

#[test]
fn a_small_key_is_refused_with_the_key_length_code() {
    let mut templates = Template::builtin();
    templates[0].min_key_bits = 3072;
    let ca = Ca::new(TestCa::new(&mut rng(1)).unwrap(), templates);
    let der = request(
        &key(KeyAlgorithm::Rsa2048, 2),
        RequestFormat::Cmc,
        Some("SmartcardUser"),
    );
    let r = refusal(decide(&ca, &der, &[], false));
    assert_eq!(r.hresult, 0x8009_4811);
    assert!(r.message.contains("2048 bits, at least 3072"));
}

#[test]
fn the_approval_template_waits_and_issues_when_approved() {
    let ca = ca(1);
    let der = request(
        &key(KeyAlgorithm::P256, 2),
        RequestFormat::Cmc,
        Some("SmartcardUserApproval"),
    );
    let d = decide(&ca, &der, &[], false);
    assert!(matches!(d, Decision::Pending), "{d:?}");
    issued(decide(&ca, &der, &[], true));
}

#[test]
fn garbage_is_an_asn1_error_and_a_bit_flip_a_bad_signature() {
    let ca = ca(1);
    assert_eq!(
        refusal(decide(&ca, b"\x30\x02\x05\x00", &[], false)).hresult,
        0x8009_310B
    );
    let mut der = request(
        &key(KeyAlgorithm::Rsa2048, 2),
        RequestFormat::Pkcs10,
        Some("User"),
    );
    let last = der.len() - 1;
    der[last] ^= 1;
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_0006);
}

/// How the test CMC names its signer.
enum Signer {
    /// By the signing key's own identifier.
    OwnKeyId,
    /// By this key identifier.
    KeyId(Vec<u8>),
    /// By the issuer and serial number of this certificate (DER), carried inside.
    Certificate(Vec<u8>),
}

/// A CMC request around `csr` with `pairs` in an add-attributes control, signed by `key`.
fn cmc(
    csr: CertReq,
    pairs: &[(&str, &str)],
    key: &PrivateKey,
    signer: Signer,
    tamper: Option<fn(&mut Vec<u8>)>,
) -> Vec<u8> {
    let values = pairs
        .iter()
        .map(|(n, v)| {
            Any::encode_from(&NameValuePair {
                name: BmpString::from_utf8(n).unwrap(),
                value: BmpString::from_utf8(v).unwrap(),
            })
            .unwrap()
        })
        .collect::<Vec<_>>();
    let mut control_sequence = Vec::new();
    if !values.is_empty() {
        let add = CmcAddAttributes {
            pki_data_reference: 0,
            cert_references: vec![1],
            attributes: SetOfVec::try_from(vec![Attribute {
                oid: NAME_VALUE_PAIR,
                values: SetOfVec::try_from(values).unwrap(),
            }])
            .unwrap(),
        };
        control_sequence.push(TaggedAttribute {
            body_part_id: 2,
            attr_type: CMC_ADD_ATTRIBUTES,
            attr_values: SetOfVec::try_from(vec![Any::encode_from(&add).unwrap()]).unwrap(),
        });
    }
    let pki_data = PkiData {
        control_sequence,
        req_sequence: vec![TaggedRequest::Tcr(TaggedCertificationRequest {
            body_part_id: 1,
            certification_request: csr,
        })],
        cms_sequence: Vec::new(),
        other_msg_sequence: Vec::new(),
    }
    .to_der()
    .unwrap();
    let attr = |oid, value: Any| Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).unwrap(),
    };
    let signed_attrs = SetOfVec::try_from(vec![
        attr(ID_CONTENT_TYPE, Any::encode_from(&PKI_DATA).unwrap()),
        attr(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(HashAlg::Sha256.digest(&pki_data)).unwrap())
                .unwrap(),
        ),
    ])
    .unwrap();
    let mut signature = KeySigner::new(key, rng(11))
        .sign(&signed_attrs.to_der().unwrap(), HashAlg::Sha256)
        .unwrap();
    if let Some(tamper) = tamper {
        tamper(&mut signature);
    }
    let key_id = |id: Vec<u8>| {
        SignerIdentifier::SubjectKeyIdentifier(SubjectKeyIdentifier(OctetString::new(id).unwrap()))
    };
    let (sid, certificates) = match signer {
        Signer::OwnKeyId => (key_id(testca::key_identifier(key.public()).unwrap()), None),
        Signer::KeyId(id) => (key_id(id), None),
        Signer::Certificate(der) => {
            let cert = x509_cert::Certificate::from_der(&der).unwrap();
            let tbs = cert.tbs_certificate();
            let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            });
            let set = CertificateSet(
                SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).unwrap(),
            );
            (sid, Some(set))
        }
    };
    let sha256 = spki::AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
        parameters: None,
    };
    let signed = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![sha256.clone()]).unwrap(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: PKI_DATA,
            econtent: Some(Any::encode_from(&OctetString::new(pki_data).unwrap()).unwrap()),
        },
        certificates,
        crls: None,
        signer_infos: SignerInfos(
            SetOfVec::try_from(vec![SignerInfo {
                version: CmsVersion::V1,
                sid,
                digest_alg: sha256,
                signed_attrs: Some(signed_attrs),
                signature_algorithm: spki::AlgorithmIdentifierOwned {
                    oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
                    parameters: Some(Any::null()),
                },
                signature: OctetString::new(signature).unwrap(),
                unsigned_attrs: None,
            }])
            .unwrap(),
        ),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// An agent's certificate from `ca` under `template`.
fn agent_certificate(ca: &Ca, agent: &PrivateKey, template: &str) -> Vec<u8> {
    let der = request(agent, RequestFormat::Pkcs10, Some(template));
    issued(decide(ca, &der, &[], false)).to_der().unwrap()
}

#[test]
fn an_enrollment_agent_enrolls_another_user() {
    let ca = ca(1);
    let agent = key(KeyAlgorithm::Rsa2048, 20);
    let agent_cert = agent_certificate(&ca, &agent, "EnrollmentAgent");
    let user = key(KeyAlgorithm::Rsa2048, 21);
    let csr = CertReq::from_der(&request(
        &user,
        RequestFormat::Pkcs10,
        Some("SmartcardUser"),
    ))
    .unwrap();
    let pairs = [
        ("RequesterName", "x@example.test"),
        ("CertificateTemplate", "SmartcardUser"),
    ];
    let der = cmc(
        csr.clone(),
        &pairs,
        &agent,
        Signer::Certificate(agent_cert.clone()),
        None,
    );
    let cert = issued(decide(&ca, &der, &[], false));
    assert_eq!(upn_of(&cert), "x@example.test");
    assert_eq!(
        testca::public_key_of(cert.tbs_certificate().subject_public_key_info()).unwrap(),
        *user.public()
    );

    // A bad agent signature.
    let flip: fn(&mut Vec<u8>) = |s| s[10] ^= 1;
    let der = cmc(
        csr.clone(),
        &pairs,
        &agent,
        Signer::Certificate(agent_cert.clone()),
        Some(flip),
    );
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_0006);

    // An agent certificate without the Certificate Request Agent usage.
    let plain = agent_certificate(&ca, &agent, "User");
    let der = cmc(
        csr.clone(),
        &pairs,
        &agent,
        Signer::Certificate(plain),
        None,
    );
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x800B_0110);

    // An agent certificate from another CA.
    let stranger = agent_certificate(&self::ca(2), &agent, "EnrollmentAgent");
    let der = cmc(
        csr.clone(),
        &pairs,
        &agent,
        Signer::Certificate(stranger),
        None,
    );
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x800B_0109);

    // Signed by an agent but naming nobody; naming somebody without an agent.
    let der = cmc(
        csr.clone(),
        &[("CertificateTemplate", "SmartcardUser")],
        &agent,
        Signer::Certificate(agent_cert),
        None,
    );
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_4012);
    let der = cmc(csr, &pairs, &user, Signer::OwnKeyId, None);
    assert_eq!(refusal(decide(&ca, &der, &[], false)).hresult, 0x8009_4012);
}
