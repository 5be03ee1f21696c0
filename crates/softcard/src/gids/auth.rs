//! The user PIN and the administrator key: VERIFY, CHANGE REFERENCE DATA, RESET RETRY
//! COUNTER, GENERAL AUTHENTICATE (GIDS specification v2.0, card commands).
//!
//! A PIN verification spends its try and writes the card image before it compares
//! (anti-tearing). The administrator's mutual authentication is the GIDS one: the host
//! sends R1, the card answers R2, the host sends E(R2 || R1 || Z1 || 80) and the card
//! answers E(R1 || R2 || Z2 || 80), E being CBC with a zero IV under the administrator key.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::command::{AuthKey, AuthStep, PinStatusDo, UserPin};
use super::state::{ADMIN, Challenge, State, Volatile};
use crate::{
    Context, Pin, PinPolicy, PinStore, Status,
    crypto::sym::{SymAlg, SymKey},
    tlv,
};

/// The try limit of the user PIN.
pub(super) const PIN_TRIES: u8 = 3;
/// The PIN rules of a Windows TPM virtual smart card: 8 to 127 characters.
pub(super) const WINDOWS_PIN_POLICY: PinPolicy = PinPolicy {
    min_len: 8,
    max_len: 127,
    max_tries: PIN_TRIES,
};

impl PinStore for State {
    type Reference = UserPin;

    /// The user PIN (reference 80), if set; there is no other.
    fn pin_mut(&mut self, _: UserPin) -> Result<&mut Pin, Status> {
        self.pin.as_mut().ok_or(Status::ReferencedDataNotFound)
    }
}

/// The PIN status DO: `7F71 06 97 01 tries 93 01 limit` (7F72 is an alias; there is no PUK,
/// so 7F73 is not found).
pub(super) fn pin_status(state: &State, tag: PinStatusDo) -> Result<Vec<u8>, Status> {
    let pin = state.pin.as_ref().ok_or(Status::ReferencedDataNotFound)?;
    Ok(tlv::encode(
        tag.tag(),
        &[0x97, 1, pin.tries_left(), 0x93, 1, pin.policy().max_tries],
    ))
}

/// VERIFY: checks the PIN (anti-tearing), or without data tells whether it is verified.
pub(super) fn verify(
    state: &mut State,
    v: &mut Volatile,
    ctx: &mut Context<'_>,
    reference: UserPin,
    candidate: Option<&[u8]>,
) -> Result<(), Status> {
    let operational = state.operational;
    let pin = state.pin_mut(reference)?;
    let Some(candidate) = candidate else {
        return if v.pin_verified || !operational {
            Ok(())
        } else {
            Err(pin.tries_status())
        };
    };
    v.pin_verified = false;
    ctx.verify_pin(state, reference, candidate)?;
    v.pin_verified = true;
    Ok(())
}

/// CHANGE REFERENCE DATA, P1 00: the old PIN followed by the new one. The card splits them
/// at the length of the stored PIN (a length is no secret); a new PIN breaking the length
/// rules is refused (6A80) before a try is spent, so nothing is written; a wrong old PIN
/// costs a try.
pub(super) fn change(
    state: &mut State,
    v: &mut Volatile,
    ctx: &mut Context<'_>,
    reference: UserPin,
    old_and_new: &[u8],
) -> Result<(), Status> {
    let pin = state.pin_mut(reference)?;
    v.pin_verified = false;
    let (old, new) = old_and_new
        .split_at_checked(pin.value_len())
        .ok_or(Status::WrongData)?;
    pin.policy().check(new)?;
    ctx.verify_pin(state, reference, old)?;
    state.pin_mut(reference)?.set(new)?;
    v.pin_verified = true;
    Ok(())
}

/// CHANGE REFERENCE DATA, P1 01: sets the PIN; during initialization without condition
/// (this creates the PIN), afterwards once the PIN is verified.
pub(super) fn set(
    state: &mut State,
    v: &mut Volatile,
    reference: UserPin,
    new: &[u8],
) -> Result<(), Status> {
    if !state.operational {
        state.pin = Some(Pin::new(new, WINDOWS_PIN_POLICY)?);
    } else if v.pin_verified {
        state.pin_mut(reference)?.set(new)?;
    } else {
        return Err(Status::SecurityStatusNotSatisfied);
    }
    Ok(())
}

/// RESET RETRY COUNTER, P1 02: a new PIN after the administrator authenticated; the
/// administrator is logged out afterwards.
pub(super) fn reset_retry_counter(
    state: &mut State,
    v: &mut Volatile,
    reference: UserPin,
    new: &[u8],
) -> Result<(), Status> {
    if !state.operational {
        return Err(Status::CommandNotAllowed);
    }
    let pin = state.pin_mut(reference)?;
    if !v.admin_authenticated {
        return Err(Status::SecurityStatusNotSatisfied);
    }
    // The administrator is logged out whether or not the new PIN is accepted.
    let result = pin.set(new);
    v.logout();
    result
}

/// PUT DATA 3FFF `70 { 84 80, A5 { 87 key, 88 ... } }`: a new administrator key (its
/// cipher stays the one the card was made with).
pub(super) fn put_admin_key(state: &mut State, v: &Volatile, key: &[u8]) -> Result<(), Status> {
    state.require(ADMIN, v)?;
    let aes = state.admin.as_ref().is_some_and(|k| k.algorithm().is_aes());
    let alg = SymAlg::with_key_len(aes, key.len()).ok_or(Status::WrongData)?;
    state.admin = Some(SymKey::from_bytes(alg, key).map_err(|_| Status::WrongData)?);
    Ok(())
}

/// MSE SET selecting the administrator key for authentication.
pub(super) fn select_admin(state: &State, v: &mut Volatile, key: AuthKey) -> Result<(), Status> {
    v.challenge = Challenge::None;
    v.admin_selected = false;
    if key != AuthKey::Admin || state.admin.is_none() {
        return Err(Status::ReferencedDataNotFound);
    }
    v.admin_selected = true;
    Ok(())
}

fn wrap(tag: u32, value: &[u8]) -> Vec<u8> {
    tlv::encode(0x7C, &tlv::encode(tag, value))
}

/// Length of the mutual authentication cryptogram: R1, R2 and Z padded to whole blocks
/// (40 bytes with 3DES, 48 with AES).
fn mutual_len(key: &SymKey) -> usize {
    32 + key.block_len()
}

/// `data` encrypted or decrypted in CBC mode with a zero IV, into a new buffer.
fn cbc(key: &SymKey, data: &[u8], encrypt: bool) -> Result<Zeroizing<Vec<u8>>, Status> {
    let mut out = Zeroizing::new(data.to_vec());
    if encrypt {
        key.cbc_encrypt(&mut out)?;
    } else {
        key.cbc_decrypt(&mut out)?;
    }
    Ok(out)
}

/// GENERAL AUTHENTICATE with the administrator key: `81` asks a challenge (16 bytes of the
/// host's: mutual; empty: external), `82` answers it.
pub(super) fn general_authenticate(
    state: &State,
    v: &mut Volatile,
    ctx: &mut Context<'_>,
    step: AuthStep<'_>,
) -> Result<Vec<u8>, Status> {
    if !state.operational {
        return Err(Status::CommandNotAllowed);
    }
    if !v.admin_selected {
        return Err(Status::ConditionsNotSatisfied);
    }
    let admin = state.admin.as_ref().ok_or(Status::ReferencedDataNotFound)?;
    let response = match step {
        AuthStep::Response(response) => response,
        challenge => {
            v.admin_authenticated = false;
            v.challenge = Challenge::None;
            return match challenge {
                AuthStep::ExternalChallenge => {
                    let mut ch = Zeroizing::new(vec![0u8; admin.block_len()]);
                    ctx.rng.fill_bytes(&mut ch);
                    let out = wrap(0x81, &ch);
                    v.challenge = Challenge::External(ch);
                    Ok(out)
                }
                AuthStep::MutualChallenge(host) => {
                    let mut card = Zeroizing::new([0u8; 16]);
                    ctx.rng.fill_bytes(&mut *card);
                    let out = wrap(0x81, &*card);
                    v.challenge = Challenge::Mutual {
                        host: Zeroizing::new(*host),
                        card,
                    };
                    Ok(out)
                }
                AuthStep::BadChallenge | AuthStep::Response(_) => Err(Status::WrongData),
            };
        }
    };
    match core::mem::take(&mut v.challenge) {
        Challenge::None => Err(Status::ConditionsNotSatisfied),
        Challenge::External(ch) => {
            if response.len() != ch.len() {
                return Err(Status::SecurityStatusNotSatisfied);
            }
            let plain = cbc(admin, response, false)?;
            if !bool::from(plain.as_slice().ct_eq(ch.as_slice())) {
                return Err(Status::SecurityStatusNotSatisfied);
            }
            v.admin_authenticated = true;
            Ok(Vec::new())
        }
        Challenge::Mutual { host, card } => {
            let len = mutual_len(admin);
            if response.len() != len {
                return Err(Status::SecurityStatusNotSatisfied);
            }
            let plain = cbc(admin, response, false)?;
            let mut expected = Zeroizing::new(Vec::with_capacity(33));
            expected.extend_from_slice(&*card);
            expected.extend_from_slice(&*host);
            let head = plain.get(..32).unwrap_or_default();
            let pad_ok = plain.last().copied().unwrap_or(0).ct_eq(&0x80);
            if !bool::from(head.ct_eq(expected.as_slice()) & pad_ok) {
                return Err(Status::SecurityStatusNotSatisfied);
            }
            let mut reply = Zeroizing::new(Vec::with_capacity(len));
            reply.extend_from_slice(&*host);
            reply.extend_from_slice(&*card);
            let mut z2 = Zeroizing::new(vec![0u8; len - 33]);
            ctx.rng.fill_bytes(&mut z2);
            reply.extend_from_slice(&z2);
            reply.push(0x80);
            let enc = cbc(admin, &reply, true)?;
            v.admin_authenticated = true;
            Ok(wrap(0x82, &enc))
        }
    }
}
