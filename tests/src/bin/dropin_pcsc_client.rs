//! A client written against the real `pcsc` crate (it links `libpcsclite.so.1`): lists
//! the readers, connects to the first softcard reader, SELECTs the PIV application and
//! prints the status word. The drop-in tests run it with the drop-in library first on
//! `LD_LIBRARY_PATH`, so no pcscd is involved.

use pcsc::{Context, Protocols, Scope, ShareMode};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::establish(Scope::User)?;
    let readers = ctx.list_readers_owned()?;
    for r in &readers {
        println!("reader: {}", r.to_string_lossy());
    }
    let reader = readers
        .iter()
        .find(|r| r.to_bytes().starts_with(b"softcard"))
        .ok_or("no softcard reader")?;
    let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
    let select_piv = [
        0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01,
        0x00,
    ];
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let response = card.transmit(&select_piv, &mut buf)?;
    let sw = response
        .get(response.len().saturating_sub(2)..)
        .ok_or("short response")?;
    println!("SW {:02X}{:02X}", sw[0], sw[1]);
    let mut atr = [0u8; pcsc::MAX_ATR_SIZE];
    let mut names = [0u8; 256];
    let status = card.status2(&mut names, &mut atr)?;
    println!(
        "ATR {}",
        status
            .atr()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    );
    card.disconnect(pcsc::Disposition::LeaveCard)
        .map_err(|(_, e)| e)?;
    Ok(())
}
