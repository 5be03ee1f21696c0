//! The HTTPS side: the server's own key and certificate (issued by the CA, so that a
//! client trusting the CA certificate trusts the server), and the rustls configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use const_oid::AssociatedOid as _;
use der::asn1::{Ia5String, OctetString};
use p256::pkcs8::EncodePrivateKey as _;
use softcard::crypto::{BackendKind, CardRng, KeyAlgorithm, KeyMaterial, PrivateKey};
use softcard_enroll::testca::{self, TestCa};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};

use crate::StateError;

/// `id-kp-serverAuth`.
const SERVER_AUTH: const_oid::ObjectIdentifier = const_oid::db::rfc5280::ID_KP_SERVER_AUTH;

/// Makes the server key (P-256) and its certificate for `localhost`, `127.0.0.1` and
/// `::1`, valid for a year: PKCS#8 PEM and the chain in PEM (server, then CA).
///
/// # Errors
/// [`StateError::Make`].
pub(crate) fn make(ca: &TestCa, rng: &mut dyn CardRng) -> Result<(String, String), StateError> {
    let fail = |e: &dyn core::fmt::Display| StateError::Make(e.to_string());
    let key = PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::P256, rng)
        .map_err(|e| fail(&e))?;
    let KeyMaterial::P256 { d } = key.material() else {
        return Err(StateError::Make("not a P-256 key".into()));
    };
    let secret = p256::SecretKey::from_slice(d).map_err(|e| fail(&e))?;
    let pkcs8 = secret
        .to_pkcs8_pem(Default::default())
        .map_err(|e| fail(&e))?
        .to_string();
    let public = key.public();
    let ext = |oid, critical, value: &dyn DerValue| -> Result<Extension, StateError> {
        Ok(Extension {
            extn_id: oid,
            critical,
            extn_value: OctetString::new(value.der().map_err(|e| fail(&e))?)
                .map_err(|e| fail(&e))?,
        })
    };
    let id = |k| -> Result<OctetString, StateError> {
        OctetString::new(testca::key_identifier(k).map_err(|e| fail(&e))?).map_err(|e| fail(&e))
    };
    let ca_key = ca
        .certificate()
        .public_key()
        .ok_or_else(|| StateError::Make("the CA certificate has no key".into()))?;
    let names = SubjectAltName(vec![
        GeneralName::DnsName(Ia5String::new("localhost").map_err(|e| fail(&e))?),
        ip(IpAddr::V4(Ipv4Addr::LOCALHOST))?,
        ip(IpAddr::V6(Ipv6Addr::LOCALHOST))?,
    ]);
    let extensions = vec![
        ext(
            KeyUsage::OID,
            true,
            &KeyUsage(KeyUsages::DigitalSignature.into()),
        )?,
        ext(
            ExtendedKeyUsage::OID,
            false,
            &ExtendedKeyUsage(vec![SERVER_AUTH]),
        )?,
        ext(SubjectAltName::OID, false, &names)?,
        ext(
            SubjectKeyIdentifier::OID,
            false,
            &SubjectKeyIdentifier(id(public)?),
        )?,
        ext(
            AuthorityKeyIdentifier::OID,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(id(ca_key)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
    ];
    let subject = x509_cert::name::Name::default();
    let cert = ca
        .sign(
            subject,
            public,
            extensions,
            Duration::from_secs(365 * 24 * 3600),
            rng,
        )
        .map_err(|e| fail(&e))?;
    Ok((pkcs8, cert.to_pem() + &ca.certificate().to_pem()))
}

/// Something that encodes to DER (the extension values above).
trait DerValue {
    fn der(&self) -> Result<Vec<u8>, der::Error>;
}

impl<T: der::Encode> DerValue for T {
    fn der(&self) -> Result<Vec<u8>, der::Error> {
        self.to_der()
    }
}

fn ip(addr: IpAddr) -> Result<GeneralName, StateError> {
    let bytes = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    OctetString::new(bytes)
        .map(GeneralName::IpAddress)
        .map_err(|e| StateError::Make(e.to_string()))
}

/// The rustls server configuration for a PEM chain and PKCS#8 PEM key.
///
/// # Errors
/// A message when the PEM does not decode or rustls refuses the key.
pub(crate) fn server_config(chain: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let certs = softcard_enroll::parse_certificates(chain.as_bytes())
        .map_err(|e| format!("TLS certificate: {e}"))?
        .into_iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let (label, der) =
        pem_rfc7468::decode_vec(key.as_bytes()).map_err(|e| format!("TLS key: {e}"))?;
    if label != "PRIVATE KEY" {
        return Err(format!("TLS key: a {label} PEM, not PRIVATE KEY"));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(Arc::new(config))
}
