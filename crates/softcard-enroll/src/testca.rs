//! **Test use only**: a throwaway certification authority, so that an enrollment can be
//! carried through (request, issued certificate, installation, logon-style signature)
//! with nothing installed. It keeps no database, checks no policy, revokes nothing and
//! issues whatever a correctly signed request asks for; never use it for real
//! certificates.
//!
//! [`TestCa::new`] makes an RSA-2048 key and a self-signed CA certificate;
//! [`TestCa::issue`] verifies a PKCS#10 request's signature (alone or inside a CMC full
//! PKI request) and issues a certificate (SHA-256 with RSA, one year) carrying the
//! subject, key and requested extensions. [`verify_signature`] checks signatures made
//! by a card.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use softcard::crypto::{BackendKind, CardRng, HashAlg, KeyAlgorithm, PrivateKey, PublicKey};

use crate::der::{self, Reader, tag};
use crate::{Certificate, EnrollError, SignatureAlgorithm, oid, spki};

const BASIC_CONSTRAINTS: &[u32] = &[2, 5, 29, 19];
const SUBJECT_KEY_ID: &[u32] = &[2, 5, 29, 14];
const AUTHORITY_KEY_ID: &[u32] = &[2, 5, 29, 35];
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);

/// A test certification authority: an RSA-2048 key and its self-signed certificate.
pub struct TestCa {
    key: PrivateKey,
    name: Vec<u8>,
    certificate: Certificate,
}

impl core::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA named `CN=softcard Test CA,O=softcard`, valid from an hour ago for a
    /// year.
    ///
    /// # Errors
    /// [`EnrollError::Signer`] if the key cannot be made.
    pub fn new(rng: &mut dyn CardRng) -> Result<Self, EnrollError> {
        let key = PrivateKey::generate(BackendKind::RustCrypto, KeyAlgorithm::Rsa2048, rng)
            .map_err(|e| EnrollError::Signer(Box::new(e)))?;
        let name = crate::name::encode("CN=softcard Test CA,O=softcard")?;
        let public = key.public().clone();
        let extensions = vec![
            extension(
                BASIC_CONSTRAINTS,
                true,
                &der::seq(&[&[tag::BOOLEAN, 1, 0xFF]]),
            ),
            // keyCertSign and cRLSign.
            extension(oid::KEY_USAGE, true, &[tag::BIT_STRING, 2, 1, 0x06]),
            extension(
                SUBJECT_KEY_ID,
                false,
                &der::tlv(tag::OCTET_STRING, &spki::key_identifier(&public)),
            ),
        ];
        let der = sign_certificate(&key, &name, &name, &public, extensions, rng)?;
        Ok(TestCa {
            certificate: Certificate::from_der(&der)?,
            key,
            name,
        })
    }

    /// The CA's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Issues a certificate for a request (DER PKCS#10, or a DER CMC full PKI request
    /// whose first PKCS#10 is used), after verifying the request's signature with its own
    /// key. The requested extensions (key usage, extended key usages, subjectAltName,
    /// template) are copied; basic constraints and key identifiers are set by the CA.
    ///
    /// # Errors
    /// [`EnrollError::Malformed`] for a request that does not decode,
    /// [`EnrollError::BadSignature`] for one whose signature does not verify.
    pub fn issue(&self, request: &[u8], rng: &mut dyn CardRng) -> Result<Certificate, EnrollError> {
        let csr = if is_cmc(request) {
            pkcs10_in_cmc(request)?
        } else {
            request
        };
        let parsed = parse_pkcs10(csr)?;
        let public = spki::decode(parsed.spki)?
            .ok_or_else(|| EnrollError::Unsupported("the request's key algorithm".into()))?;
        verify_signature(&public, parsed.algorithm, parsed.info, parsed.signature)?;
        let ca_key_id = spki::key_identifier(self.key.public());
        let mut extensions: Vec<Vec<u8>> = parsed
            .extensions
            .into_iter()
            .filter(|e| !has_oid(e, &[BASIC_CONSTRAINTS, SUBJECT_KEY_ID, AUTHORITY_KEY_ID]))
            .collect();
        extensions.push(extension(BASIC_CONSTRAINTS, false, &der::seq(&[])));
        extensions.push(extension(
            SUBJECT_KEY_ID,
            false,
            &der::tlv(tag::OCTET_STRING, &spki::key_identifier(&public)),
        ));
        extensions.push(extension(
            AUTHORITY_KEY_ID,
            false,
            &der::seq(&[&der::tlv(tag::context_primitive(0), &ca_key_id)]),
        ));
        let der = sign_certificate(
            &self.key,
            &self.name,
            parsed.subject,
            &public,
            extensions,
            rng,
        )?;
        Certificate::from_der(&der)
    }
}

/// Builds and signs (SHA-256 with RSA) a version 3 certificate.
fn sign_certificate(
    key: &PrivateKey,
    issuer: &[u8],
    subject: &[u8],
    public: &PublicKey,
    extensions: Vec<Vec<u8>>,
    rng: &mut dyn CardRng,
) -> Result<Vec<u8>, EnrollError> {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] &= 0x7F;
    serial[0] |= 0x40;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let not_before = time(now.saturating_sub(Duration::from_secs(3600)));
    let not_after = time(now + VALIDITY);
    let algorithm = SignatureAlgorithm::RsaPkcs1(HashAlg::Sha256).algorithm_identifier();
    let refs: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let tbs = der::seq(&[
        &der::tlv(tag::context(0), &der::small_uint(2)),
        &der::uint(&serial),
        &algorithm,
        issuer,
        &der::seq(&[&not_before, &not_after]),
        subject,
        &spki::encode(public),
        &der::tlv(tag::context(3), &der::seq(&refs)),
    ]);
    let digest_info = HashAlg::Sha256.digest_info(&HashAlg::Sha256.digest(&tbs));
    let signature = key
        .rsa_sign_pkcs1v15(&digest_info, rng)
        .map_err(|e| EnrollError::Signer(Box::new(e)))?;
    Ok(der::seq(&[&tbs, &algorithm, &der::bit_string(&signature)]))
}

/// Checks `signature` over `message` with `key`: PKCS#1 v1.5 for RSA, DER ECDSA for
/// P-256, `algorithm` naming the hash.
///
/// # Errors
/// [`EnrollError::BadSignature`] when it does not verify (or the key and algorithm do
/// not fit together).
pub fn verify_signature(
    key: &PublicKey,
    algorithm: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), EnrollError> {
    let hash = algorithm.hash();
    let digest = hash.digest(message);
    let ok = match (key, algorithm) {
        (PublicKey::Rsa { n, e }, SignatureAlgorithm::RsaPkcs1(_)) => {
            let public = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(n),
                rsa::BoxedUint::from_be_slice_vartime(e),
            )
            .map_err(|_| EnrollError::BadSignature)?;
            public
                .verify(
                    rsa::Pkcs1v15Sign::new_unprefixed(),
                    &hash.digest_info(&digest),
                    signature,
                )
                .is_ok()
        }
        (PublicKey::P256 { point }, SignatureAlgorithm::Ecdsa(_)) => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| EnrollError::BadSignature)?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| vk.verify_prehash(&digest, &sig).is_ok())
        }
        (PublicKey::P384 { point }, SignatureAlgorithm::Ecdsa(_)) => {
            let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| EnrollError::BadSignature)?;
            // A digest shorter than the field is the same integer left-padded (SHA-1 is
            // too short for `p384` to take as it is).
            let mut z = vec![0u8; 48usize.saturating_sub(digest.len())];
            z.extend_from_slice(&digest);
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| vk.verify_prehash(&z, &sig).is_ok())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(EnrollError::BadSignature)
    }
}

/// `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`.
fn extension(arcs: &[u32], critical: bool, value: &[u8]) -> Vec<u8> {
    let flag: &[u8] = if critical {
        &[tag::BOOLEAN, 1, 0xFF]
    } else {
        &[]
    };
    der::seq(&[&der::oid(arcs), flag, &der::tlv(tag::OCTET_STRING, value)])
}

fn has_oid(extension: &[u8], oids: &[&[u32]]) -> bool {
    let Ok(seq) = Reader::new(extension).expect(tag::SEQUENCE, "Extension") else {
        return false;
    };
    let Ok(id) = Reader::new(seq.content).expect(tag::OID, "Extension") else {
        return false;
    };
    oids.iter().any(|o| der::oid(o) == id.raw)
}

/// UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
fn time(since_epoch: Duration) -> Vec<u8> {
    let secs = since_epoch.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let clock = format!(
        "{month:02}{day:02}{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    if year < 2050 {
        der::tlv(0x17, format!("{:02}{clock}", year % 100).as_bytes())
    } else {
        der::tlv(0x18, format!("{year:04}{clock}").as_bytes())
    }
}

struct Pkcs10<'a> {
    info: &'a [u8],
    subject: &'a [u8],
    spki: &'a [u8],
    extensions: Vec<Vec<u8>>,
    algorithm: SignatureAlgorithm,
    signature: &'a [u8],
}

fn is_cmc(der: &[u8]) -> bool {
    Reader::new(der)
        .expect(tag::SEQUENCE, "ContentInfo")
        .is_ok_and(|s| Reader::new(s.content).peek_tag() == Some(tag::OID))
}

/// The first `TaggedCertificationRequest` of a CMC `PKIData` (RFC 5272 3.2).
fn pkcs10_in_cmc(der: &[u8]) -> Result<&[u8], EnrollError> {
    const WHAT: &str = "CMC request";
    let info = Reader::new(der).expect(tag::SEQUENCE, WHAT)?;
    let mut r = Reader::new(info.content);
    r.expect(tag::OID, WHAT)?;
    let explicit = r.expect(tag::context(0), WHAT)?;
    let signed = Reader::new(explicit.content).expect(tag::SEQUENCE, WHAT)?;
    let mut fields = Reader::new(signed.content);
    fields.expect(tag::INTEGER, WHAT)?;
    fields.expect(tag::SET, WHAT)?;
    let encap = fields.expect(tag::SEQUENCE, WHAT)?;
    let mut e = Reader::new(encap.content);
    e.expect(tag::OID, WHAT)?;
    let wrapped = e.expect(tag::context(0), WHAT)?;
    let octets = Reader::new(wrapped.content).expect(tag::OCTET_STRING, WHAT)?;
    let pki_data = Reader::new(octets.content).expect(tag::SEQUENCE, WHAT)?;
    let mut p = Reader::new(pki_data.content);
    p.expect(tag::SEQUENCE, WHAT)?; // controlSequence
    let requests = p.expect(tag::SEQUENCE, WHAT)?;
    let tcr = Reader::new(requests.content).expect(tag::context(0), WHAT)?;
    let mut t = Reader::new(tcr.content);
    t.expect(tag::INTEGER, WHAT)?; // bodyPartID
    Ok(t.expect(tag::SEQUENCE, WHAT)?.raw)
}

fn signature_algorithm(identifier: &[u8]) -> Result<SignatureAlgorithm, EnrollError> {
    let oid_of = |id: &[u8]| -> Option<Vec<u8>> {
        let seq = Reader::new(id).expect(tag::SEQUENCE, "").ok()?;
        Some(
            Reader::new(seq.content)
                .expect(tag::OID, "")
                .ok()?
                .raw
                .to_vec(),
        )
    };
    let wanted = oid_of(identifier);
    [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ]
    .into_iter()
    .flat_map(|h| {
        [
            SignatureAlgorithm::RsaPkcs1(h),
            SignatureAlgorithm::Ecdsa(h),
        ]
    })
    .find(|a| wanted.is_some() && oid_of(&a.algorithm_identifier()) == wanted)
    .ok_or_else(|| EnrollError::Unsupported("the request's signature algorithm".into()))
}

fn parse_pkcs10(der: &[u8]) -> Result<Pkcs10<'_>, EnrollError> {
    const WHAT: &str = "PKCS#10 request";
    let outer = Reader::new(der).expect(tag::SEQUENCE, WHAT)?;
    let mut parts = Reader::new(outer.content);
    let info = parts.expect(tag::SEQUENCE, WHAT)?;
    let algorithm = signature_algorithm(parts.expect(tag::SEQUENCE, WHAT)?.raw)?;
    let bits = parts.expect(tag::BIT_STRING, WHAT)?;
    let signature = bits.content.get(1..).ok_or(EnrollError::Malformed(WHAT))?;
    let mut fields = Reader::new(info.content);
    fields.expect(tag::INTEGER, WHAT)?;
    let subject = fields.expect(tag::SEQUENCE, WHAT)?.raw;
    let spki = fields.expect(tag::SEQUENCE, WHAT)?.raw;
    let mut extensions = Vec::new();
    if let Some(attrs) = fields.optional(tag::context(0), WHAT)? {
        let mut list = Reader::new(attrs.content);
        while !list.is_empty() {
            let attr = list.expect(tag::SEQUENCE, WHAT)?;
            let mut a = Reader::new(attr.content);
            if a.expect(tag::OID, WHAT)?.raw != der::oid(oid::EXTENSION_REQUEST) {
                continue;
            }
            let values = a.expect(tag::SET, WHAT)?;
            let exts = Reader::new(values.content).expect(tag::SEQUENCE, WHAT)?;
            let mut items = Reader::new(exts.content);
            while !items.is_empty() {
                extensions.push(items.expect(tag::SEQUENCE, WHAT)?.raw.to_vec());
            }
        }
    }
    Ok(Pkcs10 {
        info: info.raw,
        subject,
        spki,
        extensions,
        algorithm,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_then_generalized() {
        assert_eq!(
            time(Duration::from_secs(0)),
            der::tlv(0x17, b"700101000000Z")
        );
        // 2024-02-29 12:34:56
        assert_eq!(
            time(Duration::from_secs(1_709_210_096)),
            der::tlv(0x17, b"240229123456Z")
        );
        // 2050-01-01 00:00:00
        assert_eq!(
            time(Duration::from_secs(2_524_608_000)),
            der::tlv(0x18, b"20500101000000Z")
        );
    }
}
