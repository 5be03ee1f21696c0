//! The `certs` fuzz target's property with a fixed number of cases, on every test run: a
//! valid certificate with a few bytes overwritten, given as DER, as PEM and as a PKCS#7 PEM
//! document, is read or refused, never a panic; a certificate read re-reads from its DER
//! and from its PEM to the same bytes.

use pem_rfc7468::LineEnding;
use softcard_enroll::{Certificate, parse_certificates, testca::TestCa};
use softcard_test_support::Xorshift;

fn check(input: &[u8]) {
    let Ok(certs) = parse_certificates(input) else {
        return;
    };
    assert!(!certs.is_empty());
    for c in certs {
        let again = Certificate::from_der(c.der()).expect("a certificate read re-reads");
        assert_eq!(again.der(), c.der());
        let from_pem = parse_certificates(c.to_pem().as_bytes()).expect("its PEM reads");
        assert_eq!(from_pem.len(), 1);
        assert_eq!(from_pem[0].der(), c.der());
    }
}

#[test]
fn mutated_certificates_are_read_or_refused() {
    let ca = TestCa::new(&mut softcard::seeded_rng(1)).unwrap();
    let valid = ca.certificate().der().to_vec();
    check(&valid);
    let mut rng = Xorshift(0x5eed_0002);
    for _ in 0..256 {
        let mut der = valid.clone();
        for _ in 0..rng.next_u64() % 4 + 1 {
            let at = (rng.next_u64() % der.len() as u64) as usize;
            der[at] = rng.next_u64() as u8;
        }
        if rng.next_u64().is_multiple_of(8) {
            der.truncate((rng.next_u64() % der.len() as u64) as usize);
        }
        check(&der);
        for label in ["CERTIFICATE", "PKCS7"] {
            check(
                pem_rfc7468::encode_string(label, LineEnding::LF, &der)
                    .unwrap()
                    .as_bytes(),
            );
        }
    }
}
