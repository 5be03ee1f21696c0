//! The BER-TLV parser: iteration, `find` and `parse_one` agree, and every TLV read
//! re-encodes to one that reads back to the same tag and value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcard::tlv;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut seen = Vec::new();
    for item in tlv::iter(data) {
        let Ok(item) = item else { break };
        let (one, tail) = tlv::parse_one(rest).expect("iter and parse_one agree");
        assert_eq!((one.tag, one.value), (item.tag, item.value));
        rest = tail;
        let enc = tlv::encode(item.tag, item.value);
        let (back, extra) = tlv::parse_one(&enc).expect("an encoded TLV parses");
        assert_eq!((back.tag, back.value), (item.tag, item.value));
        assert!(extra.is_empty());
        if !seen.contains(&item.tag) {
            if let Ok(found) = tlv::find(data, item.tag) {
                assert_eq!(
                    found,
                    Some(item.value),
                    "find returns the first TLV of a tag"
                );
            }
            seen.push(item.tag);
        }
    }
});
