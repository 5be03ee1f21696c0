//! The enrollment client's certificate parsers as `softcard cert import` takes their
//! input: DER certificates, PKCS#7 certs-only messages and PEM. Half of the inputs are
//! edits of a valid certificate (DER or PEM), to get past the outer layers. A certificate
//! read must re-read from its DER and from its PEM to the same bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use softcard_enroll::{Certificate, parse_certificates, testca::TestCa};

fn valid() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        let ca = TestCa::new(&mut softcard::seeded_rng(1)).unwrap();
        ca.certificate().der().to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = match mode % 4 {
        0 => rest.to_vec(),
        // A PKCS#7 document in PEM: the DER inside is the input.
        1 => pem_rfc7468::encode_string("PKCS7", pem_rfc7468::LineEnding::LF, rest)
            .unwrap()
            .into_bytes(),
        m => {
            let mut der = valid().to_vec();
            for e in rest.chunks(3) {
                let [hi, lo, v] = [0, 1, 2].map(|i| e.get(i).copied().unwrap_or(0));
                let at = usize::from(u16::from_be_bytes([hi, lo])) % der.len();
                der[at] = v;
            }
            if m == 2 {
                der
            } else {
                pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &der)
                    .unwrap()
                    .into_bytes()
            }
        }
    };
    let Ok(certs) = parse_certificates(&input) else {
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
});
