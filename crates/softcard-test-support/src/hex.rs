//! The compile-time hex decoder behind [`apdu!`](crate::apdu).

const fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The number of bytes `hex` decodes to.
///
/// # Panics
/// (At compile time in a constant.) On a character that is neither a hex digit nor
/// whitespace, or an odd number of digits.
pub const fn decoded_len(hex: &str) -> usize {
    let b = hex.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() {
        if digit(b[i]).is_some() {
            digits += 1;
        } else if !b[i].is_ascii_whitespace() {
            panic!("not a hex digit");
        }
        i += 1;
    }
    assert!(digits % 2 == 0, "odd number of hex digits");
    digits / 2
}

/// Decodes `hex` (whitespace ignored) into `N` bytes.
///
/// # Panics
/// As [`decoded_len`], and when `N` is not the decoded length.
pub const fn decode<const N: usize>(hex: &str) -> [u8; N] {
    assert!(decoded_len(hex) == N, "wrong length");
    let b = hex.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        if let Some(d) = digit(b[i]) {
            if n % 2 == 0 {
                out[n / 2] = d << 4;
            } else {
                out[n / 2] |= d;
            }
            n += 1;
        }
        i += 1;
    }
    out
}

/// Decodes `hex` (whitespace ignored) at run time, as transcripts need.
///
/// # Errors
/// A character that is not a hex digit, or an odd number of digits.
pub fn parse(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex
        .bytes()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| digit(c).ok_or_else(|| format!("not a hex digit: {:?}", c as char)))
        .collect::<Result<_, _>>()?;
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {hex:?}"));
    }
    Ok(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}
