//! PINs and other shared secrets: a retry counter, length rules, anti-tearing verification.
//!
//! A verification is two steps so that the decremented counter reaches the card image before
//! the comparison is made ([`Pin::spend_try`], persist, then [`Pin::compare`]): cutting the
//! power mid-command can never buy an attacker a free try. Applets do not write that sequence
//! themselves: their persistent state implements [`PinStore`] and they call
//! [`Context::verify_pin`](crate::Context::verify_pin), the one place it is written.

use core::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Status;

/// A secret byte string (PIN, PUK, key bytes): not `Copy`, zeroized on drop, redacted in
/// `Debug`, compared in constant time.
#[derive(Clone, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the bytes (taking ownership, so no copy is left behind).
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Copies the bytes into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Secret(bytes.to_vec())
    }

    /// The secret bytes. Keep the borrow short; never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality (the length is not secret).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(&other.0)
    }
}

/// Length and retry rules for one PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinPolicy {
    /// Fewest bytes accepted.
    pub min_len: u8,
    /// Most bytes accepted.
    pub max_len: u8,
    /// Tries before the PIN blocks (1..=15).
    pub max_tries: u8,
}

impl PinPolicy {
    /// Checks a candidate value's length.
    ///
    /// # Errors
    /// [`Status::WrongData`] (6A80) if it is too short or too long.
    pub fn check(&self, value: &[u8]) -> Result<(), Status> {
        if value.len() < usize::from(self.min_len) || value.len() > usize::from(self.max_len) {
            return Err(Status::WrongData);
        }
        Ok(())
    }
}

/// A persistent state that holds PINs, so that
/// [`Context::verify_pin`](crate::Context::verify_pin) can spend a try, write the state and
/// compare.
pub trait PinStore: Serialize {
    /// How the applet names its PINs (a key reference, or its own enum of them).
    type Reference: Copy;

    /// The PIN named `reference`.
    ///
    /// # Errors
    /// The status word for a PIN this state does not hold (6A88 as a rule).
    fn pin_mut(&mut self, reference: Self::Reference) -> Result<&mut Pin, Status>;
}

/// A PIN (or PUK) with its retry counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    value: Secret,
    tries_left: u8,
    policy: PinPolicy,
}

impl Pin {
    /// A new PIN with a full counter.
    ///
    /// # Errors
    /// [`Status::WrongData`] if the value breaks the policy's length rules, or the policy
    /// allows no tries.
    pub fn new(value: &[u8], policy: PinPolicy) -> Result<Self, Status> {
        policy.check(value)?;
        if policy.max_tries == 0 || policy.max_tries > 15 {
            return Err(Status::WrongData);
        }
        Ok(Pin {
            value: Secret::from_slice(value),
            tries_left: policy.max_tries,
            policy,
        })
    }

    /// Tries left before the PIN blocks.
    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// The length of the value in bytes (a length is no secret: see [`Secret::ct_eq`]).
    pub fn value_len(&self) -> usize {
        self.value.len()
    }

    /// The length and retry rules.
    pub fn policy(&self) -> PinPolicy {
        self.policy
    }

    /// Whether the counter has run out.
    pub fn is_blocked(&self) -> bool {
        self.tries_left == 0
    }

    /// The status a VERIFY without data answers: 9000 is not decided here; this gives
    /// 63Cx with the tries left, or 6983 when blocked.
    pub fn tries_status(&self) -> Status {
        if self.is_blocked() {
            Status::AuthenticationBlocked
        } else {
            Status::TriesLeft(self.tries_left)
        }
    }

    /// Step one of a verification: spends a try. Persist the owner's state after this and
    /// before [`Pin::compare`].
    ///
    /// # Errors
    /// [`Status::AuthenticationBlocked`] (6983) if no try is left.
    pub fn spend_try(&mut self) -> Result<(), Status> {
        if self.is_blocked() {
            return Err(Status::AuthenticationBlocked);
        }
        self.tries_left -= 1;
        Ok(())
    }

    /// Step two: compares in constant time; on success the counter is restored.
    ///
    /// # Errors
    /// [`Status::TriesLeft`] (63Cx) with the tries left after a wrong value (63C0 when this
    /// try blocked it).
    pub fn compare(&mut self, candidate: &[u8]) -> Result<(), Status> {
        if self.value.ct_eq(candidate) {
            self.tries_left = self.policy.max_tries;
            Ok(())
        } else {
            Err(Status::TriesLeft(self.tries_left))
        }
    }

    /// Replaces the value and restores the counter.
    ///
    /// # Errors
    /// [`Status::WrongData`] if the new value breaks the length rules.
    pub fn set(&mut self, value: &[u8]) -> Result<(), Status> {
        self.policy.check(value)?;
        self.value = Secret::from_slice(value);
        self.tries_left = self.policy.max_tries;
        Ok(())
    }

    /// Changes the retry limit and restores the counter (value unchanged).
    ///
    /// # Errors
    /// [`Status::WrongData`] for a limit outside 1..=15.
    pub fn set_max_tries(&mut self, max_tries: u8) -> Result<(), Status> {
        if max_tries == 0 || max_tries > 15 {
            return Err(Status::WrongData);
        }
        self.policy.max_tries = max_tries;
        self.tries_left = max_tries;
        Ok(())
    }

    /// Restores the counter without changing the value (an administrator's unblock).
    pub fn reset_counter(&mut self) {
        self.tries_left = self.policy.max_tries;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PinPolicy = PinPolicy {
        min_len: 4,
        max_len: 8,
        max_tries: 3,
    };

    #[test]
    fn wrong_pin_counts_down_and_blocks() {
        let mut pin = Pin::new(b"12345678", POLICY).unwrap();
        for left in [2, 1, 0] {
            pin.spend_try().unwrap();
            assert_eq!(pin.compare(b"00000000"), Err(Status::TriesLeft(left)));
        }
        assert!(pin.is_blocked());
        assert_eq!(pin.spend_try(), Err(Status::AuthenticationBlocked));
        assert_eq!(pin.tries_status(), Status::AuthenticationBlocked);
    }

    #[test]
    fn right_pin_restores_counter() {
        let mut pin = Pin::new(b"12345678", POLICY).unwrap();
        pin.spend_try().unwrap();
        assert!(pin.compare(b"0000").is_err());
        pin.spend_try().unwrap();
        assert_eq!(pin.tries_left(), 1);
        assert_eq!(pin.compare(b"12345678"), Ok(()));
        assert_eq!(pin.tries_left(), 3);
    }

    #[test]
    fn length_rules() {
        assert_eq!(Pin::new(b"123", POLICY), Err(Status::WrongData));
        assert_eq!(Pin::new(b"123456789", POLICY), Err(Status::WrongData));
        let mut pin = Pin::new(b"1234", POLICY).unwrap();
        assert_eq!(pin.set(b"12"), Err(Status::WrongData));
        assert!(pin.spend_try().is_ok() && pin.compare(b"1234").is_ok());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::from_slice(b"hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.ct_eq(b"hunter2") && !s.ct_eq(b"hunter3") && !s.ct_eq(b"hunter"));
    }
}
