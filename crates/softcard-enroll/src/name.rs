//! Distinguished names from the strings users type, into `x509-cert`'s [`Name`].
//!
//! Two forms are read:
//! - RFC 4514, with the Windows extras (`E`, `S`, `T`, `G`, `;` as a separator):
//!   `"CN=Jane Doe,O=Example,C=US"`. The first RDN in the string is the *last* in the
//!   encoded sequence, so the DER holds `C`, then `O`, then `CN`, which is how `openssl`
//!   prints it (`C = US, O = Example, CN = Jane Doe`). Values may be quoted
//!   (`O="Example, Inc."`) or use backslash escapes (`\,` or `\2C`).
//! - OpenSSL's `-subj` form: `"/C=US/O=Example/CN=Jane Doe"`, written in encoded order,
//!   with `\` escaping the next character (`\/`; there are no quotes nor `\hh` escapes).
//!
//! In both a `+` joins the values of a multi-valued RDN, and an empty string is the empty
//! name. The string types are those RFC 5280 appendix A asks for: PrintableString for
//! `C` and `serialNumber`, IA5String for e-mail addresses and `DC`, UTF8String otherwise.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519;
use der::asn1::Any;
use der::{Decode as _, DecodeValue, Encode as _, FixedTag, Header, Reader, Tag, Tagged as _};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::{EnrollError, Oid, oid};

/// The attribute types a name string may use, with the string type of their value.
const ATTRIBUTES: &[(&str, ObjectIdentifier, Tag)] = &[
    ("CN", rfc4519::CN, Tag::Utf8String),
    ("SN", rfc4519::SN, Tag::Utf8String),
    ("SERIALNUMBER", rfc4519::SERIAL_NUMBER, Tag::PrintableString),
    ("C", rfc4519::C, Tag::PrintableString),
    ("L", rfc4519::L, Tag::Utf8String),
    ("ST", rfc4519::ST, Tag::Utf8String),
    ("S", rfc4519::ST, Tag::Utf8String),
    ("STREET", rfc4519::STREET, Tag::Utf8String),
    ("O", rfc4519::O, Tag::Utf8String),
    ("OU", rfc4519::OU, Tag::Utf8String),
    ("T", rfc4519::TITLE, Tag::Utf8String),
    ("TITLE", rfc4519::TITLE, Tag::Utf8String),
    ("G", rfc4519::GIVEN_NAME, Tag::Utf8String),
    ("GIVENNAME", rfc4519::GIVEN_NAME, Tag::Utf8String),
    ("E", oid::EMAIL_ADDRESS, Tag::Ia5String),
    ("EMAIL", oid::EMAIL_ADDRESS, Tag::Ia5String),
    ("EMAILADDRESS", oid::EMAIL_ADDRESS, Tag::Ia5String),
    ("DC", rfc4519::DC, Tag::Ia5String),
    ("UID", rfc4519::UID, Tag::Utf8String),
];

/// Reads a name string in either form.
///
/// # Errors
/// [`EnrollError::InvalidName`] naming the problem: an empty RDN (or `/` alone), a
/// component without `=` or without a type before it, an unknown attribute type, a bad
/// escape or quote, an empty value, a value its string type cannot hold (`C` must be two
/// letters; PrintableString and IA5String have limited alphabets), or a value repeated
/// in one RDN.
pub(crate) fn parse(name: &str) -> Result<Name, EnrollError> {
    let bad = |why: String| EnrollError::InvalidName(format!("{why} in {name:?}"));
    let trimmed = trim_value(name);
    let (rdns, openssl) = match trimmed.strip_prefix('/') {
        Some("") => {
            return Err(bad(
                "an empty RDN: '/' alone names no attribute (the empty name is the empty string)"
                    .into(),
            ));
        }
        Some(rest) => (split_unescaped(rest, &['/'], false), true),
        None if trimmed.is_empty() => (Vec::new(), false),
        None => (split_unescaped(trimmed, &[',', ';'], true), false),
    };
    let separator = if openssl { "'/'" } else { "',' or ';'" };
    let mut sequence = Vec::with_capacity(rdns.len());
    for (i, rdn) in rdns.iter().enumerate() {
        if rdn.trim().is_empty() {
            let place = match i {
                _ if i + 1 == rdns.len() => "after the last",
                0 if !openssl => "before the first",
                _ => "between two",
            };
            return Err(bad(format!("an empty RDN (nothing {place} {separator})")));
        }
        let mut atvs = Vec::new();
        for atv in split_unescaped(rdn, &['+'], !openssl) {
            if atv.trim().is_empty() {
                return Err(bad("an empty RDN value (nothing beside a '+')".into()));
            }
            let (key, value) = atv
                .split_once('=')
                .ok_or_else(|| bad(format!("{:?} is missing '='", atv.trim())))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(bad(format!("{:?} has no attribute type", atv.trim())));
            }
            let value = unescape(trim_value(value), !openssl).map_err(|why| {
                let what = if openssl {
                    "a bad escape"
                } else {
                    "a bad escape or quote"
                };
                bad(format!("{key}: {what} ({why})"))
            })?;
            if value.is_empty() {
                return Err(bad(format!("{key}: an empty value")));
            }
            let atv = attribute(key, &value).map_err(bad)?;
            if atvs.contains(&atv) {
                return Err(bad(format!("{key}={value} repeated in one RDN")));
            }
            atvs.push(atv);
        }
        let rdn = RelativeDistinguishedName::try_from(atvs)
            .map_err(|e| bad(format!("the RDN does not encode ({e})")))?;
        sequence.push(rdn);
    }
    if !openssl {
        sequence.reverse();
    }
    // `Name` is built from the DER of its RDN sequence (its fields are the crate's own).
    RdnSequence::from(sequence)
        .to_der()
        .and_then(|der| Name::from_der(&der))
        .map_err(|e| bad(format!("the name does not encode ({e})")))
}

/// The DER `Name` of a name string.
///
/// # Errors
/// As [`parse`].
#[cfg(test)]
pub(crate) fn encode(name: &str) -> Result<Vec<u8>, EnrollError> {
    parse(name)?
        .to_der()
        .map_err(|e| EnrollError::InvalidName(format!("{e} in {name:?}")))
}

/// An RDN with its values in the order they are encoded: a CA's SET OF may not be sorted
/// as DER asks, and the name is shown as it stands.
struct RdnAsWritten(Vec<AttributeTypeAndValue>);

impl FixedTag for RdnAsWritten {
    const TAG: Tag = Tag::Set;
}

impl<'a> DecodeValue<'a> for RdnAsWritten {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut values = Vec::new();
        while !reader.is_finished() {
            values.push(reader.decode()?);
        }
        Ok(RdnAsWritten(values))
    }
}

/// A DER `Name` in the RFC 4514 form [`parse`] reads: most specific RDN first
/// (`CN=Jane Doe,O=Example`), the short names of the attribute table, dotted OIDs for
/// other types, RFC 4514 escapes, and `#hex` for values that are not strings. `None` if
/// the DER does not decode.
pub(crate) fn decode(der: &[u8]) -> Option<String> {
    let rdns = Vec::<RdnAsWritten>::from_der(der).ok()?;
    let mut text: Vec<String> = rdns
        .iter()
        .map(|RdnAsWritten(values)| {
            values
                .iter()
                .map(|atv| format!("{}={}", attribute_name(atv.oid), value_text(&atv.value)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    text.reverse();
    Some(text.join(","))
}

/// The short name of an attribute type (the first of the table's names for its OID), or
/// its dotted form.
fn attribute_name(oid: ObjectIdentifier) -> String {
    match ATTRIBUTES.iter().find(|(_, o, _)| *o == oid) {
        Some((name, _, _)) => (*name).to_owned(),
        None => oid.to_string(),
    }
}

/// A value as text, escaped; the DER in hex (RFC 4514 section 2.4) for other types and
/// for strings that do not decode.
fn value_text(value: &Any) -> String {
    let bytes = value.value();
    let text = match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::TeletexString | Tag::Ia5String => {
            core::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        Tag::BmpString => utf16_be(bytes),
        _ => None,
    };
    match text {
        Some(text) => escape(&text),
        None => value
            .to_der()
            .unwrap_or_default()
            .iter()
            .fold(String::from("#"), |mut out, b| {
                out.push_str(&format!("{b:02X}"));
                out
            }),
    }
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

/// One `AttributeTypeAndValue`; the error says what is wrong with it.
fn attribute(key: &str, value: &str) -> Result<AttributeTypeAndValue, String> {
    let upper = key.to_ascii_uppercase();
    let (oid, tag) = match ATTRIBUTES.iter().find(|(k, _, _)| *k == upper) {
        Some((_, oid, tag)) => (*oid, *tag),
        None => {
            let dotted = key.strip_prefix("OID.").unwrap_or(key);
            let oid: Oid = dotted.parse().map_err(|_| {
                format!(
                    "unknown attribute type {key:?} (use CN, O, OU, C, L, ST, E, DC, UID... or a dotted OID)"
                )
            })?;
            (oid.object_identifier(), Tag::Utf8String)
        }
    };
    match tag {
        Tag::PrintableString if !value.chars().all(is_printable) => {
            return Err(format!("{key} value {value:?} is not a PrintableString"));
        }
        Tag::Ia5String if !value.is_ascii() => {
            return Err(format!("{key} value {value:?} is not ASCII"));
        }
        _ => {}
    }
    if upper == "C" && !(value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(format!(
            "C value {value:?} is not a two-letter country code"
        ));
    }
    let value = Any::new(tag, value.as_bytes()).map_err(|e| format!("{key}: {e}"))?;
    Ok(AttributeTypeAndValue { oid, value })
}

/// The PrintableString alphabet (X.680 41.4).
fn is_printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// Splits at separators that are not escaped (nor, with `quotes`, inside double quotes).
fn split_unescaped<'a>(s: &'a str, separators: &[char], quotes: bool) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut escaped, mut quoted) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if quotes && c == '"' {
            quoted = !quoted;
        } else if !quoted && separators.contains(&c) {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A name or value without the spaces around it, but for a last space escaped by a `\`
/// (RFC 4514 writes a value's last space `\ `).
fn trim_value(value: &str) -> &str {
    let value = value.trim_start();
    let end = value.trim_end().len();
    let backslashes = value[..end]
        .chars()
        .rev()
        .take_while(|&c| c == '\\')
        .count();
    match value[end..].chars().next() {
        Some(space) if backslashes % 2 == 1 => &value[..end + space.len_utf8()],
        _ => &value[..end],
    }
}

/// Resolves `\c` escapes and, in RFC 4514 form (`rfc4514`), removes quotes and resolves
/// `\hh` escapes (hex pairs form UTF-8 bytes). The error says what is wrong.
fn unescape(value: &str, rfc4514: bool) -> Result<String, &'static str> {
    let inner = match value.strip_prefix('"').filter(|_| rfc4514) {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or("a '\"' opens a quote that does not close")?,
        None => value,
    };
    let mut bytes = Vec::with_capacity(inner.len());
    let push = |bytes: &mut Vec<u8>, c: char| {
        bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    };
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            push(&mut bytes, c);
            continue;
        }
        let next = chars.next().ok_or("a '\\' at the end, escaping nothing")?;
        match next.to_digit(16).filter(|_| rfc4514) {
            Some(high) => {
                let low = chars
                    .next()
                    .and_then(|c| c.to_digit(16))
                    .ok_or("a '\\' followed by one hex digit, not two")?;
                bytes.extend(u8::try_from(high * 16 + low).ok());
            }
            None => push(&mut bytes, next),
        }
    }
    String::from_utf8(bytes).map_err(|_| "'\\hh' escapes that are not UTF-8")
}

#[cfg(test)]
mod tests;
