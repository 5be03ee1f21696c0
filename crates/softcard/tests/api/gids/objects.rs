//! PUT DATA of several data objects at once.

use super::*;

/// A PUT DATA is all or nothing: a data object refused (here one too long) leaves the ones
/// before it unstored, in memory as in the image, and nothing is written.
#[test]
fn a_refused_object_undoes_the_whole_put_data() {
    let (mut card, storage) = gids_card(2);
    verify_pin(&mut card);
    let writes = storage.writes();
    let mut data = tlv::encode(0xDF24, &[1, 2, 3]);
    tlv::write(&mut data, 0xDF25, &vec![0; 65_001]);
    assert_eq!(
        send(&mut card, &cmd(0xDB, 0xA0, 0x10, &data, None)).1,
        0x6A84
    );
    assert_eq!(
        storage.writes(),
        writes,
        "a refused PUT DATA wrote the image"
    );
    let get = cmd(0xCB, 0xA0, 0x10, &[0x5C, 2, 0xDF, 0x24], Some(256));
    assert_eq!(send(&mut card, &get).1, 0x6A88);
    assert!(
        card.image().unwrap() == storage.image().unwrap(),
        "the card's state differs from its image"
    );
    // Its twin: the same objects within the limits are stored together.
    let mut data = tlv::encode(0xDF24, &[1, 2, 3]);
    tlv::write(&mut data, 0xDF25, &[4]);
    ok(&mut card, &cmd(0xDB, 0xA0, 0x10, &data, None));
    assert_eq!(storage.writes(), writes + 1);
    assert_eq!(ok(&mut card, &get), [0xDF, 0x24, 3, 1, 2, 3]);
}
