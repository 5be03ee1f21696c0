//! Lists the readers, connects to the first one and SELECTs the PIV application.
//!
//! The same code builds against softcard's in-process readers (default: a fresh PIV card
//! is inserted in reader "softcard 00") and against the real `pcsc` crate talking to
//! pcscd:
//!
//! ```text
//! cargo run -p softcard-pcsc --example select
//! cargo run -p softcard-pcsc --example select --features real-pcsc
//! ```

// With `real-pcsc`, `pcsc` is the real crate; otherwise softcard's front stands in for it.
#[cfg(not(feature = "real-pcsc"))]
use softcard_pcsc as pcsc;

use pcsc::{Context, MAX_BUFFER_SIZE, Protocols, Scope, ShareMode};

const SELECT_PIV: [u8; 14] = [
    0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00,
];

/// Puts a virtual card in a reader; a real stack has its own cards.
#[cfg(not(feature = "real-pcsc"))]
fn setup() -> Result<(), Box<dyn std::error::Error>> {
    use softcard::{Card, CardOptions, NoStorage, Profile};
    let card = Card::create(
        &CardOptions::new(Profile::Piv),
        Box::new(softcard_file::os_rng()?),
        Box::new(NoStorage),
    )?;
    softcard_pcsc::Registry::global().insert_card("softcard 00", card)?;
    Ok(())
}

#[cfg(feature = "real-pcsc")]
fn setup() -> Result<(), Box<dyn std::error::Error>> {
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup()?;
    let ctx = Context::establish(Scope::User)?;
    let mut names = [0u8; 2048];
    let reader = ctx
        .list_readers(&mut names)?
        .next()
        .ok_or("no reader")?
        .to_owned();
    println!("reader: {}", reader.to_string_lossy());
    let card = ctx.connect(&reader, ShareMode::Shared, Protocols::ANY)?;
    let mut buf = [0u8; MAX_BUFFER_SIZE];
    let response = card.transmit(&SELECT_PIV, &mut buf)?;
    println!("SELECT PIV -> {}", hex(response));
    Ok(())
}
