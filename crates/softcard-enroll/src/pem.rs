//! PEM (RFC 7468) through `pem-rfc7468`, and the split of a text holding several
//! documents (a chain, or a certificate after its CA's) into one document each.

use pem_rfc7468::LineEnding;

use crate::EnrollError;

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";

/// Encodes `der` under `label`, 64 characters a line, LF line endings.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    // Fails only for a label that is not RFC 7468 text; the crate's labels are constants.
    pem_rfc7468::encode_string(label, LineEnding::LF, der).unwrap_or_default()
}

/// Whether `input` looks like PEM text rather than DER.
pub(crate) fn is_pem(input: &[u8]) -> bool {
    input.trim_ascii_start().starts_with(BEGIN.as_bytes())
}

/// Every `(label, DER)` document in `input`, in order; text between documents is ignored.
///
/// # Errors
/// [`EnrollError::Pem`] for a missing END line, mismatched labels, or bad base64.
pub(crate) fn decode_all(input: &[u8]) -> Result<Vec<(String, Vec<u8>)>, EnrollError> {
    let text = std::str::from_utf8(input).map_err(|_| EnrollError::Pem("not UTF-8 text".into()))?;
    let mut docs = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find(BEGIN) {
        let document = &rest[begin..];
        let label = document[BEGIN.len()..]
            .split_once("-----")
            .map(|(label, _)| label)
            .ok_or_else(|| EnrollError::Pem("unterminated BEGIN line".into()))?;
        let end_line = format!("{END}{label}-----");
        let end = document
            .find(&end_line)
            .ok_or_else(|| EnrollError::Pem(format!("no END line for {label}")))?
            + end_line.len();
        let (decoded_label, der) = pem_rfc7468::decode_vec(&document.as_bytes()[..end])
            .map_err(|e| EnrollError::Pem(format!("{label}: {e}")))?;
        docs.push((decoded_label.to_owned(), der));
        rest = &document[end..];
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
        assert!(decode_all(b"-----BEGIN X-----\nAAAA\n-----END X-----\n").is_ok());
        assert!(decode_all(b"-----BEGIN X-----\nAAAA\n").is_err());
        assert!(decode_all(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").is_err());
        assert!(decode_all(b"nothing here").is_err());
    }
}
