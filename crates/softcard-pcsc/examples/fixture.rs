//! A virtual reader as a test fixture: one expression gives a reader holding a new card of
//! the chosen profile, PIN and seed, failing on purpose where asked, reached through the
//! `pcsc`-shaped API.
//!
//! `cargo run -p softcard-pcsc --example fixture` runs `main`; `cargo test -p softcard-pcsc
//! --example fixture` runs the tests below (the workspace's `cargo test` runs them too).

use softcard::Profile;
use softcard_pcsc::fault::{Fault, Pattern};
use softcard_pcsc::{Card, Error, MAX_BUFFER_SIZE, VirtualReader};

/// SELECT the PIV application (SP 800-73-4 Part 2, 3.1.1).
const SELECT_PIV: [u8; 10] = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08];

/// VERIFY of the PIV PIN (reference 80), padded with FF to 8 bytes (SP 800-73-4 Part 2,
/// 3.2.1); returns the status word.
fn verify_pin(card: &Card, pin: &str) -> Result<u16, Error> {
    let mut apdu = vec![0x00, 0x20, 0x00, 0x80, 0x08];
    apdu.extend(pin.bytes().chain(std::iter::repeat(0xFF)).take(8));
    let mut buf = [0; MAX_BUFFER_SIZE];
    let response = card.transmit(&apdu, &mut buf)?;
    Ok(u16::from_be_bytes([response[0], response[1]]))
}

/// Connects to the reader's card and selects PIV.
fn connect(reader: &VirtualReader) -> Result<Card, Error> {
    let card = reader.connect()?;
    let mut buf = [0; MAX_BUFFER_SIZE];
    card.transmit(&SELECT_PIV, &mut buf)?;
    Ok(card)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reader = VirtualReader::builder()
        .profile(Profile::Piv)
        .pin("123456")
        .seed(42)
        .fault(Fault::answer(Pattern::Ins(0x20), 0x6982))
        .build()?;
    let card = connect(&reader)?;
    println!(
        "{}: PIN, with a fault injected -> {:04X}",
        reader.name().to_string_lossy(),
        verify_pin(&card, "123456")?
    );
    println!(
        "{}: wrong PIN -> {:04X}",
        reader.name().to_string_lossy(),
        verify_pin(&card, "654321")?
    );
    println!(
        "{}: right PIN -> {:04X}",
        reader.name().to_string_lossy(),
        verify_pin(&card, "123456")?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_given_opens_the_card() -> Result<(), Box<dyn std::error::Error>> {
        let reader = VirtualReader::builder()
            .profile(Profile::Piv)
            .pin("123456")
            .seed(42)
            .build()?;
        let card = connect(&reader)?;
        assert_eq!(verify_pin(&card, "123456")?, 0x9000);
        Ok(())
    }

    /// The failing twin: a wrong PIN is refused with the tries left, and the default PIN
    /// no longer opens a card given another.
    #[test]
    fn a_wrong_pin_is_refused_with_the_tries_left() -> Result<(), Box<dyn std::error::Error>> {
        let reader = VirtualReader::builder()
            .profile(Profile::Piv)
            .pin("123456")
            .seed(42)
            .build()?;
        let card = connect(&reader)?;
        assert_eq!(verify_pin(&card, "654321")?, 0x63C2);
        assert_eq!(verify_pin(&card, "12345678")?, 0x63C1);
        Ok(())
    }

    /// A card that fails on purpose: the next VERIFY is answered 6982 without reaching
    /// the card (no try spent), the one after it is the card's.
    #[test]
    fn a_fault_answers_the_next_verify() -> Result<(), Box<dyn std::error::Error>> {
        let reader = VirtualReader::builder()
            .profile(Profile::Piv)
            .pin("123456")
            .seed(42)
            .fault(Fault::answer(Pattern::Ins(0x20), 0x6982))
            .build()?;
        let card = connect(&reader)?;
        assert_eq!(verify_pin(&card, "123456")?, 0x6982);
        assert_eq!(verify_pin(&card, "654321")?, 0x63C2);
        assert_eq!(verify_pin(&card, "123456")?, 0x9000);
        Ok(())
    }

    /// "A card with a blocked PIN" as a fixture: block it once, snapshot it, and start
    /// every test that needs one from the snapshot.
    #[test]
    fn a_card_with_a_blocked_pin_from_a_snapshot() -> Result<(), Box<dyn std::error::Error>> {
        let blocked = {
            let reader = VirtualReader::builder().pin("123456").seed(1).build()?;
            let card = connect(&reader)?;
            while verify_pin(&card, "000000")? != 0x6983 {}
            reader.snapshot()?
        };
        let reader = VirtualReader::builder().snapshot(blocked).build()?;
        assert_eq!(verify_pin(&connect(&reader)?, "123456")?, 0x6983);
        Ok(())
    }
}
