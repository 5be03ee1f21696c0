//! Feeds arbitrary command sequences to both profiles: no input may panic, and every
//! response ends in a status word.
#![no_main]

use libfuzzer_sys::fuzz_target;
use softcard::{Card, CardOptions, NoStorage, Profile};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let profile = if first & 1 == 0 {
        Profile::Piv
    } else {
        Profile::WindowsVsc
    };
    let mut card = Card::create_seeded(&CardOptions::new(profile), 1, Box::new(NoStorage)).unwrap();
    // Commands are separated by a length byte.
    let mut rest = rest;
    while let Some((&len, tail)) = rest.split_first() {
        let (cmd, tail) = tail.split_at(usize::from(len).min(tail.len()));
        let response = card.transmit(cmd);
        assert!(response.len() >= 2);
        rest = tail;
    }
});
