//! Distinguished names from their string form (RFC 4514, with the Windows extras).
//!
//! `"CN=Jane Doe,O=Example,C=US"` is read as RFC 4514 writes names: the first RDN in the
//! string is the *last* in the encoded sequence, so the DER holds `C`, then `O`, then `CN`,
//! which is how `openssl` prints it (`C = US, O = Example, CN = Jane Doe`). A `+` joins the
//! values of a multi-valued RDN. Values may be quoted (`O="Example, Inc."`) or use
//! backslash escapes (`\,` or `\2C`). An empty string is the empty name.

use crate::der::{self, tag};
use crate::{EnrollError, Oid};

/// The attribute types a name string may use, with the string type of their value.
const ATTRIBUTES: &[(&str, &[u32], u8)] = &[
    ("CN", &[2, 5, 4, 3], tag::UTF8_STRING),
    ("SN", &[2, 5, 4, 4], tag::UTF8_STRING),
    ("SERIALNUMBER", &[2, 5, 4, 5], tag::PRINTABLE_STRING),
    ("C", &[2, 5, 4, 6], tag::PRINTABLE_STRING),
    ("L", &[2, 5, 4, 7], tag::UTF8_STRING),
    ("ST", &[2, 5, 4, 8], tag::UTF8_STRING),
    ("S", &[2, 5, 4, 8], tag::UTF8_STRING),
    ("STREET", &[2, 5, 4, 9], tag::UTF8_STRING),
    ("O", &[2, 5, 4, 10], tag::UTF8_STRING),
    ("OU", &[2, 5, 4, 11], tag::UTF8_STRING),
    ("T", &[2, 5, 4, 12], tag::UTF8_STRING),
    ("TITLE", &[2, 5, 4, 12], tag::UTF8_STRING),
    ("G", &[2, 5, 4, 42], tag::UTF8_STRING),
    ("GIVENNAME", &[2, 5, 4, 42], tag::UTF8_STRING),
    ("E", crate::oid::EMAIL_ADDRESS, tag::IA5_STRING),
    ("EMAIL", crate::oid::EMAIL_ADDRESS, tag::IA5_STRING),
    ("EMAILADDRESS", crate::oid::EMAIL_ADDRESS, tag::IA5_STRING),
    ("DC", &[0, 9, 2342, 19200300, 100, 1, 25], tag::IA5_STRING),
    ("UID", &[0, 9, 2342, 19200300, 100, 1, 1], tag::UTF8_STRING),
];

/// Encodes a name string as a DER `Name` (`RDNSequence`).
///
/// # Errors
/// [`EnrollError::InvalidName`] for a component without `=`, an unknown attribute type,
/// a bad escape or quote, an empty value, or a value its string type cannot hold
/// (`C` must be two letters; PrintableString and IA5String have limited alphabets).
pub(crate) fn encode(name: &str) -> Result<Vec<u8>, EnrollError> {
    let bad = |why: &str| EnrollError::InvalidName(format!("{why} in {name:?}"));
    let mut rdns = Vec::new();
    if !name.trim().is_empty() {
        for rdn in split_unescaped(name, &[',', ';']) {
            let mut atvs = Vec::new();
            for atv in split_unescaped(rdn, &['+']) {
                let (key, value) = atv.split_once('=').ok_or_else(|| bad("missing '='"))?;
                let value = unescape(value.trim()).ok_or_else(|| bad("bad escape or quote"))?;
                if value.is_empty() {
                    return Err(bad("empty value"));
                }
                atvs.push(attribute(key.trim(), &value).map_err(|why| bad(&why))?);
            }
            rdns.push(der::set_of(atvs));
        }
    }
    rdns.reverse();
    Ok(der::constructed(
        tag::SEQUENCE,
        &rdns.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ))
}

/// Decodes a DER `Name` into the string form [`encode`] reads: most specific RDN first
/// (`CN=Jane Doe,O=Example`), the short names of the attribute table, dotted OIDs for
/// other types, RFC 4514 escapes, and `#hex` for values that are not strings.
/// `None` if the DER does not decode.
pub(crate) fn decode(name: &[u8]) -> Option<String> {
    use softcard::tlv;
    let (seq, _) = tlv::parse_one(name).ok()?;
    let mut rdns = Vec::new();
    for rdn in tlv::iter(seq.value) {
        let mut atvs = Vec::new();
        for atv in tlv::iter(rdn.ok()?.value) {
            let (oid, value_tlv) = tlv::parse_one(atv.ok()?.value).ok()?;
            let (value, _) = tlv::parse_one(value_tlv).ok()?;
            let text = match value.tag {
                // UTF8String, PrintableString, TeletexString, IA5String.
                0x0C | 0x13 | 0x14 | 0x16 => core::str::from_utf8(value.value).ok().map(escape),
                // BMPString.
                0x1E => utf16_be(value.value).as_deref().map(escape),
                _ => None,
            }
            // Other types, and strings that do not decode: the DER in hex (RFC 4514
            // section 2.4).
            .unwrap_or_else(|| {
                value_tlv.iter().fold(String::from("#"), |mut out, b| {
                    out.push_str(&format!("{b:02X}"));
                    out
                })
            });
            atvs.push(format!("{}={text}", attribute_name(oid.value)?));
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// The short name of an attribute type (the first of the table's names for its OID), or
/// its dotted form; `None` for content octets that are not an OID.
fn attribute_name(content: &[u8]) -> Option<String> {
    let arcs = der::oid_arcs(content)?;
    Some(
        match ATTRIBUTES.iter().find(|(_, a, _)| *a == arcs.as_slice()) {
            Some((name, _, _)) => (*name).to_owned(),
            None => Oid::from(arcs).to_string(),
        },
    )
}

/// Big-endian UTF-16 (a BMPString's content).
fn utf16_be(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// An attribute value escaped as RFC 4514 section 2.4 asks.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => out.push('\\'),
            '#' if i == 0 => out.push('\\'),
            ' ' if i == 0 || i == last => out.push('\\'),
            '\0' => {
                out.push_str("\\00");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// One `AttributeTypeAndValue`.
fn attribute(key: &str, value: &str) -> Result<Vec<u8>, String> {
    let upper = key.to_ascii_uppercase();
    let (oid, string_tag) = match ATTRIBUTES.iter().find(|(k, _, _)| *k == upper) {
        Some((_, arcs, t)) => (der::oid(arcs), *t),
        None => {
            let oid: Oid = key
                .strip_prefix("OID.")
                .unwrap_or(key)
                .parse()
                .map_err(|_| format!("unknown attribute type {key:?}"))?;
            (oid.to_der(), tag::UTF8_STRING)
        }
    };
    match string_tag {
        tag::PRINTABLE_STRING if !value.chars().all(is_printable) => {
            return Err(format!("{key} value {value:?} is not a PrintableString"));
        }
        tag::IA5_STRING if !value.is_ascii() => {
            return Err(format!("{key} value {value:?} is not ASCII"));
        }
        _ => {}
    }
    if upper == "C" && !(value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(format!(
            "C value {value:?} is not a two-letter country code"
        ));
    }
    Ok(der::seq(&[&oid, &der::tlv(string_tag, value.as_bytes())]))
}

/// The PrintableString alphabet (X.680 41.4).
fn is_printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// Splits at separators that are neither escaped nor inside double quotes.
fn split_unescaped<'a>(s: &'a str, separators: &[char]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped, mut quoted) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && separators.contains(&c) {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Removes quotes and resolves `\c` and `\hh` escapes (hex pairs form UTF-8 bytes).
fn unescape(value: &str) -> Option<String> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let next = chars.next()?;
        if let Some(high) = next.to_digit(16) {
            let low = chars.next()?.to_digit(16)?;
            bytes.push((high * 16 + low) as u8);
        } else {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rdns_are_encoded_in_reverse_string_order() {
        let der = encode("CN=J,C=US").unwrap();
        // SEQUENCE { SET { C = "US" }, SET { CN = "J" } }
        assert_eq!(
            hex(&der),
            "3019310b3009060355040613025553310a300806035504030c014a"
        );
    }

    #[test]
    fn quotes_escapes_and_multi_valued_rdns() {
        let quoted = encode(r#"O="Example, Inc.""#).unwrap();
        let escaped = encode(r"O=Example\, Inc.").unwrap();
        let hexed = encode(r"O=Example\2C Inc.").unwrap();
        assert_eq!(quoted, escaped);
        assert_eq!(quoted, hexed);
        let multi = encode("CN=a+UID=b").unwrap();
        assert_eq!(multi[2], tag::SET, "one RDN with two values");
        assert_eq!(Reader::count(&multi), 1);
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "CN",
            "CN=",
            "XX=1",
            "C=USA",
            "C=U1",
            "E=j\u{e9}@x",
            r"CN=a\",
            "O=\"x",
        ] {
            assert!(encode(bad).is_err(), "{bad}");
        }
        assert_eq!(encode("").unwrap(), [0x30, 0]);
    }

    struct Reader;
    impl Reader {
        fn count(name: &[u8]) -> usize {
            let mut outer = der::Reader::new(name);
            let seq = outer.expect(tag::SEQUENCE, "name").unwrap();
            let mut r = der::Reader::new(seq.content);
            let mut n = 0;
            while !r.is_empty() {
                r.any("rdn").unwrap();
                n += 1;
            }
            n
        }
    }

    #[test]
    fn subjects_read_as_rfc_4514() {
        // C=US (PrintableString), O="Example, Inc" (UTF8String), then one RDN of
        // CN=" J+Doe#" and an attribute 1.2.3 whose value is an INTEGER, not a string.
        let c = [
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U', b'S',
        ];
        let o = [
            &[0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x0A, 0x0C, 0x0C][..],
            b"Example, Inc",
        ]
        .concat();
        let cn = [
            &[0x30, 0x0E, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x07][..],
            b" J+Doe#",
        ]
        .concat();
        let odd = [0x30, 0x07, 0x06, 0x02, 0x2A, 0x03, 0x02, 0x01, 0x05];
        let set = |parts: &[&[u8]]| {
            let body = parts.concat();
            [&[0x31, u8::try_from(body.len()).unwrap()][..], &body].concat()
        };
        let rdns = [set(&[&c]), set(&[&o]), set(&[&cn, &odd])].concat();
        let name = [&[0x30, u8::try_from(rdns.len()).unwrap()][..], &rdns].concat();
        assert_eq!(
            decode(&name).unwrap(),
            "CN=\\ J\\+Doe#+1.2.3=#020105,O=Example\\, Inc,C=US"
        );
        assert_eq!(decode(&[0x30, 0x00]).unwrap(), "");
        // A TeletexString that is not UTF-8 is shown in hex rather than failing the name.
        let latin1 = [
            0x30, 0x0F, 0x31, 0x0D, 0x30, 0x0B, 0x06, 0x03, 0x55, 0x04, 0x03, 0x14, 0x04, b'J',
            0xE9, b'r', b'o',
        ];
        assert_eq!(decode(&latin1).unwrap(), "CN=#14044AE9726F");
        // What `encode` reads, `decode` writes back.
        for text in [
            "CN=Jane Doe,O=Example\\, Inc,C=US",
            "CN=a+E=a@example.com,DC=example",
        ] {
            assert_eq!(decode(&encode(text).unwrap()).unwrap(), text);
        }
        assert_eq!(decode(&[0x30, 0x05, 0x31]), None);
    }
}
