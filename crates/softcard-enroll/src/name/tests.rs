//! Name strings: RFC 4514 and OpenSSL forms, bad input, and the string form of DER names.

use super::*;

/// `bad` is refused with a message that holds `says` and the name as given.
fn assert_refused(bad: &str, says: &str) {
    match parse(bad) {
        Err(EnrollError::InvalidName(why)) => {
            assert!(why.contains(says), "{bad}: {why}");
            assert!(why.contains(&format!("{bad:?}")), "{bad}: {why}");
        }
        other => panic!("{bad}: expected InvalidName, got {other:?}"),
    }
}

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
    assert_eq!(multi[2], 0x31, "one RDN with two values");
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
        Name::from_der(name).unwrap().iter_rdn().count()
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
        0x30, 0x0F, 0x31, 0x0D, 0x30, 0x0B, 0x06, 0x03, 0x55, 0x04, 0x03, 0x14, 0x04, b'J', 0xE9,
        b'r', b'o',
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

#[test]
fn openssl_slash_form_reads_in_encoded_order() {
    assert_eq!(
        encode("/C=US/O=Example/CN=Jane Doe").unwrap(),
        encode("CN=Jane Doe,O=Example,C=US").unwrap()
    );
    assert_eq!(encode("/CN=x").unwrap(), encode("CN=x").unwrap());
    // A `+` joins a multi-valued RDN; `\/` is a slash in a value; commas are plain.
    assert_eq!(
        encode(r"/DC=example/CN=a+UID=b/O=A\/B, Inc.").unwrap(),
        encode(r"O=A/B\, Inc.,CN=a+UID=b,DC=example").unwrap()
    );
    assert_eq!(decode(&encode("/C=US/CN=J").unwrap()).unwrap(), "CN=J,C=US");
}

#[test]
fn rfc_4514_spaces_semicolons_and_case() {
    let plain = encode("CN=Jane Doe,O=Example").unwrap();
    assert_eq!(encode(" cn = Jane Doe ; o=Example ").unwrap(), plain);
    assert_eq!(encode("CN=Jane Doe, O=Example").unwrap(), plain);
    assert_eq!(
        encode("OID.2.5.4.3=Jane Doe,2.5.4.10=Example").unwrap(),
        plain
    );
}

#[test]
fn bad_names_say_what_is_wrong() {
    for (bad, says) in [
        ("CN=a,,O=b", "an empty RDN"),
        ("/CN=a//O=b", "an empty RDN"),
        ("/", "an empty RDN"),
        ("CN=a+", "an empty RDN"),
        ("garbage no equals", "\"garbage no equals\" is missing '='"),
        ("/CN", "\"CN\" is missing '='"),
        ("XX=1", "unknown attribute type \"XX\""),
        ("/FOO=bar", "unknown attribute type \"FOO\""),
        ("CN=", "CN: an empty value"),
        ("/CN=", "CN: an empty value"),
        (r"CN=a\", "CN: a bad escape or quote"),
        ("O=\"x", "O: a bad escape or quote"),
        ("C=USA", "not a two-letter country code"),
        ("/C=U1", "not a two-letter country code"),
        ("E=j\u{e9}@x", "is not ASCII"),
        ("SERIALNUMBER=a_b", "is not a PrintableString"),
        ("CN=a+CN=a", "CN=a repeated in one RDN"),
    ] {
        assert_refused(bad, says);
    }
}

#[test]
fn openssl_form_errors_name_the_problem() {
    // Each refused name beside a twin that differs only where the problem is.
    for (bad, twin, says) in [
        (
            "/CN=a//O=b",
            "/CN=a/O=b",
            "an empty RDN (nothing between two '/')",
        ),
        (
            "/CN=a/",
            "/CN=a",
            "an empty RDN (nothing after the last '/')",
        ),
        (
            "/CN=a+/O=b",
            "/CN=a+UID=c/O=b",
            "an empty RDN value (nothing beside a '+')",
        ),
        ("/CN=a/O", "/CN=a/O=b", "\"O\" is missing '='"),
        ("/CN=a/=b", "/CN=a/O=b", "\"=b\" has no attribute type"),
        (
            "/CN=a/FOO=b",
            "/CN=a/OU=b",
            "unknown attribute type \"FOO\"",
        ),
        (
            r"/CN=a\",
            r"/CN=a\/",
            "CN: a bad escape (a '\\' at the end, escaping nothing)",
        ),
        ("/", "", "an empty RDN: '/' alone names no attribute"),
    ] {
        assert!(parse(twin).is_ok(), "{twin}");
        assert_refused(bad, says);
    }
}

#[test]
fn openssl_form_escapes_one_character_and_rfc_4514_keeps_an_escaped_last_space() {
    // OpenSSL's `\` takes the next character as it is: no hex pairs, no quotes.
    assert_eq!(encode(r"/CN=a\41").unwrap(), encode("CN=a41").unwrap());
    assert_eq!(
        encode(r#"/CN="a""#).unwrap(),
        encode(r#"CN=\"a\""#).unwrap()
    );
    assert_eq!(encode(r"CN=a\41").unwrap(), encode("CN=aA").unwrap());
    // RFC 4514 writes a value's last space escaped; it is part of the value.
    let spaced = encode(r"CN=a\ ").unwrap();
    assert_ne!(spaced, encode("CN=a").unwrap());
    assert_eq!(decode(&spaced).unwrap(), r"CN=a\ ");
    assert_eq!(
        encode(r"CN=a\  , O=b").unwrap(),
        encode(r"CN=a\ ,O=b").unwrap()
    );
    for (bad, says) in [
        (
            r"CN=a\4",
            "CN: a bad escape or quote (a '\\' followed by one hex digit, not two)",
        ),
        (
            r"CN=\ff",
            "CN: a bad escape or quote ('\\hh' escapes that are not UTF-8)",
        ),
        (
            "O=\"x",
            "O: a bad escape or quote (a '\"' opens a quote that does not close)",
        ),
    ] {
        assert_refused(bad, says);
    }
}
