//! Test plumbing shared by softcard's tests and benchmarks (never published: a
//! dev-dependency of the published crates, a dependency of the benchmark and end-to-end
//! crates, which are not published either):
//!
//! - [`apdu!`]: an APDU (or any byte string) written in hex, checked and decoded at compile
//!   time;
//! - the exchange loop: [`exchange`] follows `61xx` with GET RESPONSE over any transport,
//!   [`send`] and [`ok`] do it on an in-process [`Card`];
//! - the host side of PIV ([`piv`]) and GIDS ([`gids`]) steps with the default PIN and keys;
//! - seeded fixture cards: [`piv_card`], [`gids_card`], [`card_with`], and cards from
//!   images: [`load`], [`reload`].

use softcard::{Card, CardOptions, MemoryStorage, Profile, crypto::BackendKind};

pub mod gids;
pub mod hex;
pub mod openssl;
pub mod piv;

pub use hex::{decode as hex_decode, decoded_len as hex_len};

/// The default PIN of both profiles.
pub const PIN: &[u8] = b"12345678";

/// Bytes written in hex, decoded at compile time: `apdu!("00 A4 04 00 ...")` is a
/// `&'static [u8]`. Spaces (and other whitespace) between digits are ignored; an odd number
/// of digits or a character that is not a hex digit is a compile error.
#[macro_export]
macro_rules! apdu {
    ($hex:expr) => {{
        const LEN: usize = $crate::hex_len($hex);
        const BYTES: [u8; LEN] = $crate::hex_decode::<LEN>($hex);
        const SLICE: &[u8] = &BYTES;
        SLICE
    }};
}

/// A small deterministic generator (xorshift64): tests that pick inputs at random pick
/// the same ones every run, so a failure can be replayed. The seed must not be 0.
#[derive(Clone, Debug)]
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (not 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The status word at the end of a response (`0` for a response shorter than one).
pub fn sw(response: &[u8]) -> u16 {
    match response {
        [.., a, b] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// Splits a response into its data and its status word (`0` when there is none).
pub fn split_sw(mut response: Vec<u8>) -> (Vec<u8>, u16) {
    let sw = sw(&response);
    response.truncate(response.len().saturating_sub(2));
    (response, sw)
}

/// Sends `apdu` through `transmit` and follows every `61xx` with GET RESPONSE (`Le` = `xx`),
/// collecting the data; returns the data and the final status word.
///
/// # Errors
/// The first transport error.
pub fn exchange<E>(
    mut transmit: impl FnMut(&[u8]) -> Result<Vec<u8>, E>,
    apdu: &[u8],
) -> Result<(Vec<u8>, u16), E> {
    let mut data = Vec::new();
    let mut response = transmit(apdu)?;
    loop {
        let (chunk, sw) = split_sw(response);
        data.extend_from_slice(&chunk);
        if sw >> 8 != 0x61 {
            return Ok((data, sw));
        }
        response = transmit(&[0x00, 0xC0, 0x00, 0x00, sw as u8])?;
    }
}

/// [`exchange`] on an in-process card: the data of a (chained) response and its SW.
pub fn send(card: &mut Card, apdu: &[u8]) -> (Vec<u8>, u16) {
    let Ok(r) = exchange(
        |a| Ok::<_, std::convert::Infallible>(card.transmit(a)),
        apdu,
    );
    r
}

/// [`send`], insisting on `9000`; the data.
///
/// # Panics
/// On any other status word, naming the command.
#[track_caller]
pub fn ok(card: &mut Card, apdu: &[u8]) -> Vec<u8> {
    let (data, sw) = send(card, apdu);
    assert_eq!(sw, 0x9000, "command {apdu:02X?}");
    data
}

/// A command APDU with CLA 00, short or extended as `data` and `le` need.
///
/// # Panics
/// On data or `le` too long for any encoding.
pub fn cmd(ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    softcard::apdu::encode_command(0, ins, p1, p2, data, le).expect("encodable command")
}

/// SELECT by AID (`00 A4 04 00 Lc AID 00`).
pub fn select_command(aid: &[u8]) -> Vec<u8> {
    cmd(0xA4, 0x04, 0x00, aid, Some(256))
}

/// VERIFY of the PIN (reference 80) with `pin`.
pub fn verify_command(pin: &[u8]) -> Vec<u8> {
    cmd(0x20, 0x00, 0x80, pin, None)
}

/// A card of the options' profile created from `seed`, writing its image to the returned
/// memory storage.
///
/// # Panics
/// On options the card refuses.
pub fn card_with(opts: &CardOptions, seed: u64) -> (Card, MemoryStorage) {
    let storage = MemoryStorage::new();
    let card = Card::create_seeded(opts, seed, Box::new(storage.clone())).unwrap();
    (card, storage)
}

/// A PIV card (default PIN and management key) created from `seed`, and its storage.
pub fn piv_card(seed: u64) -> (Card, MemoryStorage) {
    card_with(&CardOptions::new(Profile::Piv), seed)
}

/// A GIDS card (Windows virtual smart card profile, default PIN and administrator key)
/// created from `seed`, and its storage.
pub fn gids_card(seed: u64) -> (Card, MemoryStorage) {
    card_with(&CardOptions::new(Profile::WindowsVsc), seed)
}

/// A card loaded from `image` into `backend` (random numbers from `seed`), writing to a
/// storage of its own.
///
/// # Panics
/// When the image does not load.
#[track_caller]
pub fn load(image: &[u8], seed: u64, backend: BackendKind) -> Card {
    Card::load(
        image,
        Box::new(softcard::seeded_rng(seed)),
        Box::new(MemoryStorage::new()),
        backend,
    )
    .unwrap()
}

/// The card rebuilt (RustCrypto backend, random numbers from `seed`) from the image it last
/// wrote to `storage`, writing there again: a power cycle that keeps only the image.
///
/// # Panics
/// When the storage holds no image or the image does not load.
#[track_caller]
pub fn reload(storage: &MemoryStorage, seed: u64) -> Card {
    Card::load(
        &storage.image().unwrap(),
        Box::new(softcard::seeded_rng(seed)),
        Box::new(storage.clone()),
        BackendKind::RustCrypto,
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apdu_macro_decodes_at_compile_time() {
        assert_eq!(apdu!("00 A4 04 00 02 3F00"), &[0, 0xA4, 4, 0, 2, 0x3F, 0]);
        assert_eq!(apdu!(""), &[] as &[u8]);
    }

    #[test]
    fn exchange_follows_61xx() {
        let mut answers = vec![vec![3, 4, 0x90, 0], vec![1, 2, 0x61, 0x02]];
        let mut sent = Vec::new();
        let r = exchange(
            |a| {
                sent.push(a.to_vec());
                Ok::<_, ()>(answers.pop().unwrap())
            },
            &[0, 0xCA, 0, 0, 0],
        );
        assert_eq!(r, Ok((vec![1, 2, 3, 4], 0x9000)));
        assert_eq!(sent[1], [0, 0xC0, 0, 0, 2]);
    }
}
