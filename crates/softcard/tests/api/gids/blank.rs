//! Identity, the blank card's initialization, the minidriver helpers.

use super::*;

#[test]
fn atr_checksum_and_fci() {
    let tck = gids::ATR[1..].iter().fold(0u8, |a, b| a ^ b);
    assert_eq!(tck, 0, "TCK makes the XOR of T0..TCK zero");
    let (mut card, _) = gids_card(1);
    let fci = softcard_test_support::gids::select(&mut card);
    assert_eq!(
        hex::encode_upper(fci),
        "61124F0BA00000039742544659020173034001C0"
    );
}

/// Drives an applet without a card, as the blank card is not a profile yet.
struct Harness {
    applet: GidsApplet,
    rng: rand_chacha::ChaCha20Rng,
}

impl Harness {
    fn send(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Status> {
        let c = Command::parse(apdu).unwrap();
        let mut persist = |_: Vec<u8>| -> Result<(), Status> { Ok(()) };
        let mut ctx = Context::new(&mut self.rng, BackendKind::RustCrypto, &mut persist);
        if c.ins == 0xA4 && c.p1 == 4 {
            self.applet.select(&mut ctx)
        } else {
            self.applet
                .process(&c, &mut ctx)
                .map(|outcome| outcome.data)
        }
    }
}

fn ef_fcp(fid: u16, write: u8, read: u8) -> Vec<u8> {
    let [hi, lo] = fid.to_be_bytes();
    vec![
        0x62, 0x0C, 0x82, 1, 0x39, 0x83, 2, hi, lo, 0x8C, 3, 3, write, read,
    ]
}

#[test]
fn blank_card_initialized_as_gids_tool_does() {
    let mut h = Harness {
        applet: GidsApplet::create_blank(),
        rng: softcard::seeded_rng(12),
    };
    h.send(&[
        0, 0xA4, 4, 0, 9, 0xA0, 0, 0, 3, 0x97, 0x42, 0x54, 0x46, 0x59,
    ])
    .unwrap();
    // gids-tool first checks that there is no master file.
    assert!(
        h.send(&[0, 0xCB, 0xA0, 0, 4, 0x5C, 2, 0xDF, 0x1F, 0])
            .is_err()
    );
    // The windows-vsc PIN rules hold during initialization too: at least 8 characters.
    assert_eq!(
        h.send(&cmd(0x24, 1, 0x80, b"4321", None)),
        Err(Status::WrongData)
    );
    h.send(&cmd(0x24, 1, 0x80, b"43214321", None)).unwrap();
    for (fid, write, read) in [
        (0xA000, 0x30, 0),
        (0xA010, 0x30, 0),
        (0xA011, 0x30, 0xFF),
        (0xA012, 0x20, 0),
        (0xA013, 0x30, 0x30),
        (0xA014, 0x20, 0x20),
    ] {
        h.send(&cmd(0xE0, 0, 0, &ef_fcp(fid, write, read), None))
            .unwrap();
        h.send(&[0, 0x44, 0, 0]).unwrap();
    }
    let admin_fcp = [
        0x62, 0x1A, 0x82, 1, 0x18, 0x83, 2, 0xB0, 0x80, 0x8C, 4, 0x87, 0, 0x20, 0xFF, 0xA5, 0x0B,
        0xA4, 9, 0x80, 1, 2, 0x83, 1, 0x80, 0x95, 1, 0xC0,
    ];
    h.send(&cmd(0xE0, 0, 0, &admin_fcp, None)).unwrap();
    h.send(&[0, 0x44, 0, 0]).unwrap();
    let init_key = [0x42u8; 24];
    let mut template = tlv::encode(0x87, &init_key);
    tlv::write(&mut template, 0x88, &[0xB0, 0x73, 0xDC]);
    let mut body = tlv::encode(0x84, &[0x80]);
    tlv::write(&mut body, 0xA5, &template);
    h.send(&cmd(0xDB, 0x3F, 0xFF, &tlv::encode(0x70, &body), None))
        .unwrap();
    let master = md::encode_master_file(&md::initial_master_file()).unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x00, &tlv::encode(0xDF1F, &master), None))
        .unwrap();
    h.send(&cmd(
        0xDB,
        0xA0,
        0x10,
        &tlv::encode(0xDF21, &md::CARDAPPS),
        None,
    ))
    .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x10, &tlv::encode(0xDF22, &[0; 6]), None))
        .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x10, &[0xDF, 0x23, 0], None))
        .unwrap();
    h.send(&cmd(0xDB, 0xA0, 0x12, &tlv::encode(0xDF20, &[7; 16]), None))
        .unwrap();
    h.send(&[0, 0xA4, 0, 0x0C, 2, 0x3F, 0xFF]).unwrap();
    h.send(&[0, 0x44, 0, 0]).unwrap();
    // Operational now: the conditions apply.
    let got = h
        .send(&[0, 0xCB, 0xA0, 0, 4, 0x5C, 2, 0xDF, 0x1F, 0])
        .unwrap();
    assert_eq!(tlv::expect_single(&got, 0xDF1F).unwrap(), &master[..]);
    assert_eq!(
        h.send(&cmd(0xDB, 0xA0, 0x12, &tlv::encode(0xDF20, &[8; 16]), None)),
        Err(Status::SecurityStatusNotSatisfied)
    );
    assert_eq!(h.send(&[0, 0x20, 0, 0x80]), Err(Status::TriesLeft(3)));
    assert_eq!(
        h.send(&cmd(0x20, 0, 0x80, b"12341234", None)),
        Err(Status::TriesLeft(2))
    );
    h.send(&cmd(0x20, 0, 0x80, b"43214321", None)).unwrap();
    // The cmapfile exists empty, as pkcs15 emulation needs it.
    assert_eq!(
        h.send(&[0, 0xCB, 0xA0, 0x10, 4, 0x5C, 2, 0xDF, 0x23, 0])
            .unwrap(),
        [0xDF, 0x23, 0]
    );
    // A second initialization is refused: the files exist.
    assert_eq!(
        h.send(&cmd(0xE0, 0, 0, &ef_fcp(0xA000, 0x30, 0), None)),
        Err(Status::SecurityStatusNotSatisfied)
    );
    let state = h.applet.save().unwrap();
    let again = GidsApplet::load(&state, BackendKind::RustCrypto).unwrap();
    let AppletState::Gids(described) = again.description() else {
        panic!("a GIDS applet describes itself as GIDS")
    };
    assert!(described.operational);
}

#[test]
fn minidriver_helpers_round_trip() {
    let master = md::encode_master_file(&md::initial_master_file()).unwrap();
    assert_eq!(master.len(), 1 + 5 * 28);
    assert_eq!(master[0], 1);
    // cardid: directory "", name "cardid", DO DF20, EF A012, little-endian u32s.
    assert_eq!(&master[1 + 28 + 9..1 + 28 + 15], b"cardid");
    assert_eq!(
        &master[1 + 28 + 20..1 + 28 + 28],
        &[0x20, 0xDF, 0, 0, 0x12, 0xA0, 0, 0]
    );
    assert_eq!(
        md::parse_master_file(&master).unwrap(),
        md::initial_master_file()
    );
    // A cmapfile record as a client writes it: the name in UTF-16LE, then flags and sizes.
    let mut bytes = [0u8; md::CONTAINER_RECORD_LEN];
    for (i, c) in "{0123}".bytes().enumerate() {
        bytes[2 * i] = c;
    }
    bytes[80..].copy_from_slice(&[1, 0, 0, 0, 0x00, 0x08]);
    let rec = md::ContainerMapRecord {
        name: "{0123}".into(),
        flags: md::CONTAINER_VALID,
        sig_key_bits: 0,
        kx_key_bits: 2048,
    };
    assert_eq!(md::ContainerMapRecord::parse(&bytes).unwrap(), rec);
    let cf = md::CardCf {
        version: 0,
        pins: 1,
        containers: 0x102,
        files: 3,
    };
    assert_eq!(md::CardCf::parse(&cf.encode()).unwrap(), cf);
}
