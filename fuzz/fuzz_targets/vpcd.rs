//! The vpcd frame decoder on a byte stream read as frames (length prefix, body): the
//! header check and the body decoder agree, an APDU is the body itself, and a reply frame
//! encodes and reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
// The codec is private to softcard-pcsc (the bridge is its only user): its source is
// compiled in here as it is.
#[path = "../../crates/softcard-pcsc/src/vpcd/codec.rs"]
#[allow(dead_code, missing_docs)]
mod codec;

use codec::{FrameError, HEADER_LEN, MAX_FRAME, MIN_APDU, Message};

fuzz_target!(|data: &[u8]| {
    let max_frame = usize::from(data.first().copied().unwrap_or(0)) * 64 + 4;
    let mut rest = data.get(1..).unwrap_or_default();
    let mut out = Vec::new();
    while let Some((header, tail)) = rest.split_first_chunk::<HEADER_LEN>() {
        let len = match codec::body_len(*header, max_frame) {
            Ok(len) => len,
            Err(FrameError::Empty | FrameError::TooShort(_) | FrameError::Oversized(_)) => {
                // The connection would be dropped; so would a body of that length be.
                let n = usize::from(u16::from_be_bytes(*header));
                assert!(n == 0 || n < MIN_APDU || n > max_frame);
                break;
            }
            Err(e) => panic!("unexpected header error {e}"),
        };
        assert!(len <= max_frame && len <= MAX_FRAME);
        let Some((body, tail)) = tail.split_at_checked(len) else {
            break;
        };
        match codec::decode(body) {
            Ok(Message::Apdu(apdu)) => {
                assert_eq!(apdu, body);
                assert!(apdu.len() >= MIN_APDU);
            }
            Ok(_) => assert_eq!(body.len(), 1),
            Err(FrameError::UnknownControl(c)) => assert_eq!(body, [c]),
            Err(e) => {
                panic!("a body of {len} bytes passed the header check but not the decoder: {e}")
            }
        }
        codec::encode(body, &mut out).unwrap();
        assert_eq!(codec::body_len([out[0], out[1]], MAX_FRAME).ok(), Some(len));
        assert_eq!(&out[HEADER_LEN..], body);
        rest = tail;
    }
});
