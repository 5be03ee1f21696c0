//! A client written against the real `pcsc` crate: selects PIV on the first reader whose
//! name starts with the given prefix, VERIFYs a wrong PIN then the right one, and signs
//! SHA-256("softcard") with the key in slot 9A (host-side PKCS#1 v1.5 padding, one
//! extended APDU). Prints one line per step.
//!
//! usage: pcsc-sign-client READER_PREFIX PIN

use pcsc::{Context, Protocols, Scope, ShareMode};
use sha2::{Digest, Sha256};

fn sw(r: &[u8]) -> u16 {
    match r {
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let prefix = args
        .next()
        .ok_or("usage: pcsc-sign-client READER_PREFIX PIN")?;
    let pin = args
        .next()
        .ok_or("usage: pcsc-sign-client READER_PREFIX PIN")?;
    let ctx = Context::establish(Scope::User)?;
    let readers = ctx.list_readers_owned()?;
    let reader = readers
        .iter()
        .find(|r| r.to_bytes().starts_with(prefix.as_bytes()))
        .ok_or("no such reader")?;
    let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut send = |apdu: &[u8]| -> Result<Vec<u8>, pcsc::Error> {
        Ok(card.transmit(apdu, &mut buf)?.to_vec())
    };
    let select = [
        0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01,
        0x00,
    ];
    println!("SELECT {:04X}", sw(&send(&select)?));
    let verify = |value: &[u8]| {
        let mut apdu = vec![0x00, 0x20, 0x00, 0x80, 0x08];
        apdu.extend(value.iter().copied().chain(std::iter::repeat(0xFF)).take(8));
        apdu
    };
    println!("VERIFY-WRONG {:04X}", sw(&send(&verify(b"00000000"))?));
    println!("VERIFY {:04X}", sw(&send(&verify(pin.as_bytes()))?));

    let mut digest_info = softcard::crypto::HashAlg::Sha256
        .digest_info_prefix()
        .to_vec();
    digest_info.extend_from_slice(&Sha256::digest(b"softcard"));
    let mut block = vec![0x00, 0x01];
    block.resize(256 - digest_info.len() - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(&digest_info);
    let mut body = vec![0x82, 0x00];
    softcard::tlv::write(&mut body, 0x81, &block);
    let data = softcard::tlv::encode(0x7C, &body);
    let apdu = softcard::apdu::encode_command(0x00, 0x87, 0x07, 0x9A, &data, Some(65536))?;
    let r = send(&apdu)?;
    println!("SIGN {:04X}", sw(&r));
    let sig = r
        .get(r.len().saturating_sub(258)..r.len().saturating_sub(2))
        .unwrap_or(&[]);
    println!(
        "SIGNATURE {}",
        sig.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Ok(())
}
