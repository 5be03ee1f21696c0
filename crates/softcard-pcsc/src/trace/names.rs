//! Names for what a trace holds: instructions of PIV (SP 800-73-4 Part 2, with Yubico's
//! extensions) and GIDS (GIDS 1.0), applications by AID, and ISO 7816-4 status words.

use super::format::{Apdu, Exchange, Piece};

/// Instruction names (PIV and GIDS share their codes; those marked Yubico are PIV only).
const INSTRUCTIONS: &[(u8, &str)] = &[
    (0x20, "VERIFY"),
    (0x22, "MANAGE SECURITY ENVIRONMENT"),
    (0x24, "CHANGE REFERENCE DATA"),
    (0x2A, "PERFORM SECURITY OPERATION"),
    (0x2C, "RESET RETRY COUNTER"),
    (0x44, "ACTIVATE FILE"),
    (0x47, "GENERATE ASYMMETRIC KEY PAIR"),
    (0x84, "GET CHALLENGE"),
    (0x87, "GENERAL AUTHENTICATE"),
    (0xA4, "SELECT"),
    (0xC0, "GET RESPONSE"),
    (0xCB, "GET DATA"),
    (0xDB, "PUT DATA"),
    (0xE0, "CREATE FILE"),
    (0xE4, "DELETE FILE"),
    (0xF6, "MOVE/DELETE KEY (Yubico)"),
    (0xF7, "GET METADATA (Yubico)"),
    (0xF8, "GET SERIAL (Yubico)"),
    (0xF9, "ATTEST (Yubico)"),
    (0xFA, "SET PIN RETRIES (Yubico)"),
    (0xFB, "RESET (Yubico)"),
    (0xFD, "GET VERSION (Yubico)"),
    (0xFE, "IMPORT KEY (Yubico)"),
    (0xFF, "SET MANAGEMENT KEY (Yubico)"),
];

/// Applications by AID prefix.
const APPLICATIONS: &[(&[u8], &str)] = &[
    (&[0xA0, 0x00, 0x00, 0x03, 0x08], "PIV"),
    (&[0xA0, 0x00, 0x00, 0x03, 0x97], "GIDS"),
    (
        &[0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17],
        "Yubico management",
    ),
    (&[0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01], "Yubico OTP"),
    (&[0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01], "Yubico OATH"),
    (&[0xD2, 0x76, 0x00, 0x01, 0x24, 0x01], "OpenPGP"),
];

/// Fixed status words and their meaning.
const STATUS_WORDS: &[(u16, &str)] = &[
    (0x9000, "success"),
    (0x6281, "data may be corrupted"),
    (0x6581, "memory failure"),
    (0x6700, "wrong length"),
    (0x6881, "logical channel not supported"),
    (0x6882, "secure messaging not supported"),
    (0x6883, "last command of the chain expected"),
    (0x6884, "command chaining not supported"),
    (0x6982, "security status not satisfied"),
    (0x6983, "authentication method blocked"),
    (0x6984, "reference data not usable"),
    (0x6985, "conditions of use not satisfied"),
    (0x6986, "command not allowed"),
    (0x6A80, "incorrect data"),
    (0x6A81, "function not supported"),
    (0x6A82, "file or application not found"),
    (0x6A84, "not enough memory"),
    (0x6A86, "incorrect P1-P2"),
    (0x6A88, "referenced data not found"),
    (0x6A89, "file already exists"),
    (0x6B00, "wrong P1-P2"),
    (0x6D00, "instruction not supported"),
    (0x6E00, "class not supported"),
    (0x6F00, "no precise diagnosis"),
];

/// The name of an instruction byte.
pub fn instruction(ins: u8) -> Option<&'static str> {
    INSTRUCTIONS
        .iter()
        .find(|(code, _)| *code == ins)
        .map(|(_, n)| *n)
}

/// The name of the application an AID (or its prefix, as SELECT allows) names.
pub fn application(aid: &[u8]) -> Option<&'static str> {
    APPLICATIONS
        .iter()
        .find(|(prefix, _)| aid.starts_with(prefix) || (aid.len() >= 5 && prefix.starts_with(aid)))
        .map(|(_, n)| *n)
}

/// What a status word says: `success`, `verification failed, 2 tries left`...
pub fn status_word(sw: u16) -> String {
    let [sw1, sw2] = sw.to_be_bytes();
    match sw1 {
        0x61 => format!("{sw2} more bytes (GET RESPONSE)"),
        0x6C => format!("wrong Le, {sw2} bytes available"),
        0x63 if sw2 & 0xF0 == 0xC0 => {
            format!("verification failed, {} tries left", sw2 & 0x0F)
        }
        _ => STATUS_WORDS
            .iter()
            .find(|(w, _)| *w == sw)
            .map_or_else(|| "unknown status".to_string(), |(_, n)| (*n).to_string()),
    }
}

/// The name of a key or PIN reference (P2 of VERIFY, GENERAL AUTHENTICATE...).
fn reference(p2: u8) -> String {
    match p2 {
        0x80 => "PIN".into(),
        0x81 => "PUK".into(),
        0x9B => "management key".into(),
        _ => format!("key {p2:02X}"),
    }
}

/// The known bytes of a field, if it is not redacted.
fn known(field: Option<&Piece>) -> Option<&[u8]> {
    match field? {
        Piece::Bytes(b) => Some(b),
        Piece::Redacted(_) => None,
    }
}

/// A command in words: `SELECT PIV (a000000308)`, `VERIFY PIN, 8 bytes redacted`...
pub fn command(apdu: &Apdu) -> String {
    let fields = apdu.fields();
    let header = known(fields.first()).unwrap_or_default();
    let [cla, ins, p1, p2, ..] = *header else {
        return format!("malformed command {apdu}");
    };
    let name = instruction(ins).map_or_else(|| format!("INS {ins:02X}"), str::to_string);
    // The data field: the third field when Lc is there.
    let data = fields.get(2);
    let what = match (ins, data) {
        (0xA4, Some(Piece::Bytes(aid))) if p1 == 0x04 => match application(aid) {
            Some(app) => format!("{name} {app} ({})", hex::encode(aid)),
            None => format!("{name} AID {}", hex::encode(aid)),
        },
        (0xA4, Some(Piece::Bytes(file))) => format!("{name} FILE {}", hex::encode(file)),
        (0x20 | 0x24 | 0x2C, None) => format!("{name} {} (status)", reference(p2)),
        // GIDS names its key in the MANAGE SECURITY ENVIRONMENT before (P1P2 0000).
        (0x87, _) if p1 == 0 && p2 == 0 => name,
        (0x20 | 0x24 | 0x2C | 0x87, _) => format!("{name} {}", reference(p2)),
        // PIV's objects, and GIDS data objects in a file: 5C names the tag.
        (0xCB | 0xDB, Some(Piece::Bytes(d))) if d.starts_with(&[0x5C]) => {
            let tag = d
                .get(2..2 + usize::from(*d.get(1).unwrap_or(&0)))
                .unwrap_or_default();
            match (p1, p2) {
                (0x3F, 0xFF) => format!("{name} {}", hex::encode_upper(tag)),
                _ => format!("{name} EF {p1:02X}{p2:02X} tag {}", hex::encode_upper(tag)),
            }
        }
        (0xCB | 0xDB, _) => format!("{name} {p1:02X}{p2:02X}"),
        _ => name,
    };
    let mut out = what;
    if cla & 0x10 != 0 {
        out.push_str(" (chained)");
    }
    match data {
        Some(Piece::Redacted(n)) => out.push_str(&format!(", {n} bytes redacted")),
        Some(Piece::Bytes(d)) if !matches!(ins, 0xA4) => {
            out.push_str(&format!(", {} bytes", d.len()));
        }
        _ => {}
    }
    out
}

/// A response in words: `9000 success, 12 bytes`, `63C2 verification failed, 2 tries left`.
pub fn response(apdu: &Apdu) -> String {
    let Some(sw) = apdu.status_word() else {
        return format!("malformed response {apdu}");
    };
    let mut out = format!("{sw:04X} {}", status_word(sw));
    let data = apdu.len().saturating_sub(2);
    if data > 0 {
        let redacted = if apdu.is_redacted() { " redacted" } else { "" };
        out.push_str(&format!(", {data} bytes{redacted}"));
    }
    out
}

/// One exchange on one line, as `softcard trace show` prints it.
pub fn exchange(x: &Exchange, start: super::Timestamp, reader: &str) -> String {
    format!(
        "{} {} -> {}",
        line_start(x.number, x.time, start, reader),
        command(&x.command),
        response(&x.response)
    )
}

/// The number, time since `start` and reader that begin a line of `trace show`.
fn line_start(
    number: u64,
    time: super::Timestamp,
    start: super::Timestamp,
    reader: &str,
) -> String {
    let elapsed = time.0.saturating_sub(start.0);
    format!(
        "{number:>5} {:>4}.{:03}s [{reader}]",
        elapsed / 1_000_000,
        elapsed % 1_000_000 / 1_000,
    )
}

/// An event on one line, as [`exchange`] shows exchanges: a power event, a removal or
/// insertion (`* power-off`, `* removed`), or a command an injected fault kept from the
/// card, named, with what the client got instead.
pub fn event(e: &super::Event, start: super::Timestamp, reader: &str) -> String {
    use super::EventKind;
    let what = match &e.kind {
        EventKind::Failed { error, command: c } => {
            format!("{} -> {} (injected fault)", command(c), error.name())
        }
        EventKind::Answered { sw, command: c } => {
            format!("{} -> {} (injected fault)", command(c), status_word(*sw))
        }
        other => format!("* {other}"),
    };
    format!("{} {what}", line_start(e.number, e.time, start, reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Trace;

    #[test]
    fn commands_and_status_words_are_named() {
        let t = Trace::parse(
            "softcard-trace 1\nreader 0 piv r\n\
             1 1.000000 0 00a40400 09 a00000030800001000 00 -> 61 11 9000\n\
             2 1.250000 0 00200080 08 <redacted 8 bytes> -> 63c2\n\
             3 1.250000 0 00200080 -> 6983\n\
             4 2.000000 0 00cb3fff 05 5c035fc102 00 -> 5311 9000\n\
             5 2.000000 0 00a40400 05 a000000001 -> 6a82\n\
             6 2.000000 0 0087039b 04 <redacted 4 bytes> 00 -> <redacted 12 bytes> 9000\n",
        )
        .unwrap();
        let lines: Vec<String> = t
            .exchanges
            .iter()
            .map(|x| exchange(x, super::super::Timestamp(1_000_000), "r"))
            .collect();
        assert_eq!(
            lines[0],
            "    1    0.000s [r] SELECT PIV (a00000030800001000) -> 9000 success, 2 bytes"
        );
        assert!(
            lines[1].ends_with(
                "0.250s [r] VERIFY PIN, 8 bytes redacted -> 63C2 verification failed, 2 tries left"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains("VERIFY PIN (status) -> 6983 authentication method blocked"));
        assert!(lines[3].contains("GET DATA 5FC102, 5 bytes -> 9000 success, 2 bytes"));
        assert!(lines[4].contains("SELECT AID a000000001 -> 6A82 file or application not found"));
        assert!(lines[5].contains(
            "GENERAL AUTHENTICATE management key, 4 bytes redacted -> 9000 success, 12 bytes redacted"
        ));
    }
}
