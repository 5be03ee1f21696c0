//! PEM (RFC 7468) encoding and decoding of one or more documents.

use base64ct::{Base64, Encoding};

use crate::EnrollError;

/// Encodes `der` under `label`, 64 characters a line, LF line endings.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Whether `input` looks like PEM text rather than DER.
pub(crate) fn is_pem(input: &[u8]) -> bool {
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(input.len());
    input[start..].starts_with(b"-----BEGIN ")
}

/// Every `(label, DER)` document in `input`, in order; text between documents is ignored.
///
/// # Errors
/// [`EnrollError::Pem`] for a missing END line, mismatched labels, or bad base64.
pub(crate) fn decode_all(input: &[u8]) -> Result<Vec<(String, Vec<u8>)>, EnrollError> {
    let text = std::str::from_utf8(input).map_err(|_| EnrollError::Pem("not UTF-8 text".into()))?;
    let mut docs = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + 11..];
        let (label, body) = after
            .split_once("-----")
            .ok_or_else(|| EnrollError::Pem("unterminated BEGIN line".into()))?;
        let end_line = format!("-----END {label}-----");
        let end = body
            .find(&end_line)
            .ok_or_else(|| EnrollError::Pem(format!("no END line for {label}")))?;
        let b64: String = body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = Base64::decode_vec(&b64)
            .map_err(|_| EnrollError::Pem(format!("bad base64 in {label}")))?;
        docs.push((label.to_owned(), der));
        rest = &body[end + end_line.len()..];
    }
    if docs.is_empty() {
        return Err(EnrollError::Pem("no PEM document".into()));
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_several_documents() {
        let a = encode("CERTIFICATE", &[1; 100]);
        let b = encode("PKCS7", &[2; 3]);
        assert_eq!(a.lines().nth(1).unwrap().len(), 64);
        let docs = decode_all(format!("junk\n{a}between\n{b}").as_bytes()).unwrap();
        assert_eq!(
            docs,
            [
                ("CERTIFICATE".into(), vec![1; 100]),
                ("PKCS7".into(), vec![2; 3])
            ]
        );
        assert!(is_pem(b"\n -----BEGIN X-----"));
    }

    #[test]
    fn rejects_broken_pem() {
        assert!(decode_all(b"-----BEGIN X-----\nAAAA\n").is_err());
        assert!(decode_all(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
        assert!(decode_all(b"nothing here").is_err());
    }
}
