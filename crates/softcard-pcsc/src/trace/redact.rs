//! What a trace leaves out: the secrets of PIV and GIDS commands and responses.
//!
//! An exchange is split into fields (header, Lc, data, Le; response data, status word);
//! a secret data field becomes `<redacted N bytes>`, the other fields stay, so that the
//! redacted trace still shows the command's structure and length. The rules follow the
//! application selected on the reader (the last successful SELECT by AID):
//!
//! | command | PIV | GIDS |
//! |---|---|---|
//! | VERIFY (20), CHANGE REFERENCE DATA (24), RESET RETRY COUNTER (2C) | data (PIN, PUK) | data (PIN, PUK); in any application |
//! | GENERAL AUTHENTICATE (87) | with the management key (9B): data and response | always (administrator key): data and response |
//! | IMPORT KEY (FE, Yubico), SET MANAGEMENT KEY (FF, Yubico) | data | - |
//! | PUT DATA (DB) | the PIN-protected management key object (5FC109): data | applet data (P1P2 3FFF: key import, administrator key): data |
//! | GET RESPONSE (C0) | response, when it continues a redacted response | same |

use softcard::Command;

use super::format::{Apdu, Piece};

const PIV_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x08];
const GIDS_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x97];
/// The Yubico "printed information" object, where a PIN-protected management key lives.
const PRINTED_TAG: &[u8] = &[0x5C, 0x03, 0x5F, 0xC1, 0x09];

/// The application a reader's card has selected, as far as the trace can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Selected {
    /// Nothing known yet: the card's profile tells.
    #[default]
    Unknown,
    Piv,
    Gids,
    /// Another application (none of its data is taken for a secret).
    Other,
}

impl Selected {
    /// The application a card of `profile` has selected after power-on.
    pub(crate) fn default_of(profile: softcard::Profile) -> Selected {
        match profile {
            softcard::Profile::WindowsVsc => Selected::Gids,
            // A YubiKey selects nothing at power-on; PIV's rules are the careful guess.
            softcard::Profile::Piv | softcard::Profile::Yubikey | softcard::Profile::Yubikey54 => {
                Selected::Piv
            }
        }
    }

    /// The application named by the AID of a SELECT.
    pub(crate) fn by_aid(aid: &[u8]) -> Selected {
        if aid.starts_with(PIV_AID) {
            Selected::Piv
        } else if aid.starts_with(GIDS_AID) {
            Selected::Gids
        } else {
            Selected::Other
        }
    }
}

/// What a reader's redaction remembers between exchanges.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReaderState {
    pub(crate) selected: Selected,
    /// The last response was redacted and announced more bytes (61xx).
    pending_secret: bool,
}

impl ReaderState {
    /// The state of a reader whose card has `profile` (unknown: `None`), just powered on.
    pub(crate) fn new(profile: Option<softcard::Profile>) -> ReaderState {
        ReaderState {
            selected: profile.map_or(Selected::Unknown, Selected::default_of),
            pending_secret: false,
        }
    }
}

/// What of an exchange is secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Secret {
    command_data: bool,
    response_data: bool,
}

fn secret_of(cmd: &Command<'_>, selected: Selected, pending: bool) -> Secret {
    let data_only = Secret {
        command_data: true,
        response_data: false,
    };
    let both = Secret {
        command_data: true,
        response_data: true,
    };
    match (selected, cmd.ins) {
        (_, 0xC0) if pending => Secret {
            command_data: false,
            response_data: true,
        },
        // PINs are secret whatever the application.
        (_, 0x20 | 0x24 | 0x2C) => data_only,
        (Selected::Piv, 0x87) if cmd.p2 == 0x9B => both,
        (Selected::Gids, 0x87) => both,
        (Selected::Piv, 0xFE | 0xFF) => data_only,
        (Selected::Piv, 0xDB) if cmd.data.starts_with(PRINTED_TAG) => data_only,
        (Selected::Piv, 0xCB) if cmd.data.starts_with(PRINTED_TAG) => Secret {
            command_data: false,
            response_data: true,
        },
        (Selected::Gids, 0xDB) if cmd.p1p2() == 0x3FFF => data_only,
        _ => Secret::default(),
    }
}

/// Splits a command into header, Lc, data and Le (a command that does not parse: header
/// and the rest), the data redacted when `redact`.
fn command_fields(bytes: &[u8], redact: bool) -> Apdu {
    let Some((header, body)) = bytes.split_at_checked(4) else {
        return Apdu::known([bytes.to_vec()]);
    };
    let Ok(cmd) = Command::parse(bytes) else {
        return Apdu::known([header.to_vec(), body.to_vec()]);
    };
    let lc_len = match (cmd.data.is_empty(), cmd.extended) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => 3,
    };
    let (lc, rest) = body.split_at_checked(lc_len).unwrap_or((&[], body));
    let (data, le) = rest.split_at_checked(cmd.data.len()).unwrap_or((rest, &[]));
    let mut fields = vec![Piece::Bytes(header.to_vec())];
    if !lc.is_empty() {
        fields.push(Piece::Bytes(lc.to_vec()));
    }
    if !data.is_empty() {
        fields.push(if redact {
            Piece::Redacted(data.len())
        } else {
            Piece::Bytes(data.to_vec())
        });
    }
    if !le.is_empty() {
        fields.push(Piece::Bytes(le.to_vec()));
    }
    Apdu::from_fields(fields)
}

/// Splits a response into data and status word, the data redacted when `redact`.
fn response_fields(bytes: &[u8], redact: bool) -> Apdu {
    let Some((data, sw)) = bytes.split_at_checked(bytes.len().saturating_sub(2)) else {
        return Apdu::known([bytes.to_vec()]);
    };
    let mut fields = Vec::new();
    if !data.is_empty() {
        fields.push(if redact {
            Piece::Redacted(data.len())
        } else {
            Piece::Bytes(data.to_vec())
        });
    }
    fields.push(Piece::Bytes(sw.to_vec()));
    Apdu::from_fields(fields)
}

/// The fields of an exchange as a trace writes them, redacted unless `clear`, and what the
/// reader's state becomes.
pub(crate) fn fields(
    state: &mut ReaderState,
    command: &[u8],
    response: &[u8],
    clear: bool,
) -> (Apdu, Apdu) {
    let parsed = Command::parse(command).ok();
    let secret = parsed
        .as_ref()
        .map(|c| secret_of(c, state.selected, state.pending_secret))
        .unwrap_or_default();
    let secret = if clear { Secret::default() } else { secret };
    let sw1 = response.len().checked_sub(2).and_then(|i| response.get(i));
    let ok = response.ends_with(&[0x90, 0x00]) || sw1 == Some(&0x61);
    if let Some(c) = parsed
        .as_ref()
        .filter(|c| c.ins == 0xA4 && c.p1 == 0x04 && ok)
    {
        state.selected = Selected::by_aid(c.data);
    }
    state.pending_secret = secret.response_data && sw1 == Some(&0x61);
    (
        command_fields(command, secret.command_data),
        response_fields(response, secret.response_data),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(selected: Selected, command: &[u8], response: &[u8]) -> (String, String) {
        let mut state = ReaderState {
            selected,
            ..ReaderState::default()
        };
        let (c, r) = fields(&mut state, command, response, false);
        (c.to_string(), r.to_string())
    }

    #[test]
    fn pins_and_keys_are_redacted_with_their_lengths() {
        let verify = [
            0x00, 0x20, 0x00, 0x80, 0x08, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xFF, 0xFF,
        ];
        assert_eq!(
            redacted(Selected::Piv, &verify, &[0x90, 0x00]),
            ("00200080 08 <redacted 8 bytes>".into(), "9000".into())
        );
        let mut change = vec![0x00, 0x24, 0x00, 0x81, 0x10];
        change.extend([0x41; 16]);
        assert_eq!(
            redacted(Selected::Gids, &change, &[0x63, 0xC2]).0,
            "00240081 10 <redacted 16 bytes>"
        );
        let witness = [0x00, 0x87, 0x03, 0x9B, 0x04, 0x7C, 0x02, 0x80, 0x00, 0x00];
        let mut answer = vec![0x7C, 0x0A, 0x80, 0x08];
        answer.extend([0x55; 8]);
        answer.extend([0x90, 0x00]);
        assert_eq!(
            redacted(Selected::Piv, &witness, &answer),
            (
                "0087039b 04 <redacted 4 bytes> 00".into(),
                "<redacted 12 bytes> 9000".into()
            )
        );
        let import = [0x00, 0xFE, 0x07, 0x9A, 0x03, 0x01, 0x02, 0x03];
        assert!(
            redacted(Selected::Piv, &import, &[0x90, 0x00])
                .0
                .contains("redacted 3")
        );
        let gids_import = [0x00, 0xDB, 0x3F, 0xFF, 0x02, 0x70, 0x00];
        assert!(
            redacted(Selected::Gids, &gids_import, &[0x90, 0x00])
                .0
                .contains("redacted 2")
        );
    }

    #[test]
    fn other_commands_stay_in_clear() {
        let sign = [0x00, 0x87, 0x07, 0x9A, 0x03, 0x7C, 0x01, 0x00];
        assert_eq!(
            redacted(Selected::Piv, &sign, &[0x01, 0x90, 0x00]),
            ("0087079a 03 7c0100".into(), "01 9000".into())
        );
        // A certificate written with PUT DATA in PIV is no secret; GIDS PUT DATA to a file
        // neither.
        let put = [0x00, 0xDB, 0x3F, 0xFF, 0x02, 0x5C, 0x00];
        assert!(
            !redacted(Selected::Piv, &put, &[0x90, 0x00])
                .0
                .contains("redacted")
        );
        let file = [0x00, 0xDB, 0xA0, 0x10, 0x02, 0xDF, 0x00];
        assert!(
            !redacted(Selected::Gids, &file, &[0x90, 0x00])
                .0
                .contains("redacted")
        );
    }

    #[test]
    fn a_chained_secret_response_stays_redacted_and_select_moves_the_rules() {
        let mut state = ReaderState {
            selected: Selected::Gids,
            ..ReaderState::default()
        };
        let auth = [0x00, 0x87, 0x00, 0x00, 0x02, 0x7C, 0x00, 0x00];
        let (_, r) = fields(&mut state, &auth, &[0x01, 0x02, 0x61, 0x04], false);
        assert_eq!(r.to_string(), "<redacted 2 bytes> 6104");
        let (_, r) = fields(
            &mut state,
            &[0x00, 0xC0, 0x00, 0x00, 0x04],
            &[1, 2, 3, 4, 0x90, 0x00],
            false,
        );
        assert_eq!(r.to_string(), "<redacted 4 bytes> 9000");
        let (_, r) = fields(
            &mut state,
            &[0x00, 0xC0, 0x00, 0x00, 0x04],
            &[1, 2, 0x90, 0x00],
            false,
        );
        assert_eq!(r.to_string(), "0102 9000");

        let select_other = [0x00, 0xA4, 0x04, 0x00, 0x03, 0xD2, 0x76, 0x00];
        fields(&mut state, &select_other, &[0x90, 0x00], false);
        assert_eq!(state.selected, Selected::Other);
        let (c, _) = fields(&mut state, &auth, &[0x90, 0x00], false);
        assert!(!c.is_redacted());
        let verify = [0x00, 0x20, 0x00, 0x80, 0x01, 0x31];
        let (c, _) = fields(&mut state, &verify, &[0x90, 0x00], false);
        assert!(c.is_redacted());
        let (c, _) = fields(&mut state, &verify, &[0x90, 0x00], true);
        assert!(!c.is_redacted());
    }
}
