//! The Yubico extensions clients expect of a PIV card: GET VERSION (FD), GET SERIAL (F8),
//! GET METADATA (F7), SET MANAGEMENT KEY (FF), RESET (FB), SET PIN RETRIES (FA) and
//! ATTEST (F9). IMPORT KEY (FE) is in the keys module.

use super::{
    Identity, PivApplet, attest,
    command::{KeyRef, PinRef},
    keys::public_key_fields,
    objects,
    state::{MgmtKey, Persistent},
    types::{Origin, Slot, TouchPolicy},
};
use crate::{
    CardOptions, Pin, PinPolicy, Secret, Status,
    crypto::{
        CardRng,
        sym::{SymAlg, SymKey, ct_eq},
    },
    options::DEFAULT_ADMIN_KEY,
    tlv,
};

/// PIN and PUK length and retry rules: 6 to 8 characters, 3 tries.
pub const PIN_POLICY: PinPolicy = PinPolicy {
    min_len: 6,
    max_len: 8,
    max_tries: 3,
};

/// A fresh persistent state from the options, with the identity's defaults for what they
/// leave unset (no attestation key yet).
pub fn fresh_state(
    opts: &CardOptions,
    identity: Identity,
    serial: u32,
    rng: &mut dyn CardRng,
) -> Result<Persistent, Status> {
    let pin_value = opts
        .pin
        .as_ref()
        .map_or(identity.default_pin(), Secret::expose);
    let puk_value = opts
        .puk
        .as_ref()
        .map_or(identity.default_puk(), Secret::expose);
    let key = match &opts.admin_key {
        Some(key) => {
            let alg =
                SymAlg::with_key_len(opts.admin_key_aes, key.len()).ok_or(Status::WrongData)?;
            SymKey::from_bytes(alg, key.expose()).map_err(|_| Status::WrongData)?
        }
        None => default_mgmt_key(identity)?,
    };
    Ok(Persistent {
        pin: Pin::new(pin_value, PIN_POLICY)?,
        puk: Pin::new(puk_value, PIN_POLICY)?,
        pin_default: pin_value == identity.default_pin(),
        puk_default: puk_value == identity.default_puk(),
        mgmt: MgmtKey {
            default: is_default(&key, identity),
            key,
            touch: TouchPolicy::Never,
        },
        keys: Default::default(),
        objects: objects::defaults(rng),
        serial,
    })
}

/// The identity's default management key: the well-known bytes under its default algorithm.
fn default_mgmt_key(identity: Identity) -> Result<SymKey, Status> {
    SymKey::from_bytes(identity.default_mgmt_alg(), &DEFAULT_ADMIN_KEY)
        .map_err(|_| Status::WrongData)
}

/// Whether `key` is the well-known default management key: its bytes under the identity's
/// default algorithm (3DES; AES-192 on a YubiKey 5.7).
fn is_default(key: &SymKey, identity: Identity) -> bool {
    key.algorithm() == identity.default_mgmt_alg() && ct_eq(key.as_bytes(), &DEFAULT_ADMIN_KEY)
}

impl PivApplet {
    /// GET VERSION: three bytes, major minor patch (the identity's firmware).
    pub(super) fn get_version(&self) -> Vec<u8> {
        self.identity.version().to_vec()
    }

    /// GET SERIAL: four bytes, big-endian.
    pub(super) fn get_serial(&self) -> Vec<u8> {
        self.state.serial.to_be_bytes().to_vec()
    }

    /// GET METADATA of a key reference: 01 algorithm, 02 policies, 03 origin, 04 public
    /// key, 05 default value, 06 retries (total, left). 6A88 for an empty slot.
    pub(super) fn get_metadata(&self, key_ref: KeyRef) -> Result<Vec<u8>, Status> {
        let mut out = Vec::new();
        match key_ref {
            KeyRef::Pin(which) => {
                let (pin, default) = match which {
                    PinRef::Pin => (&self.state.pin, self.state.pin_default),
                    PinRef::Puk => (&self.state.puk, self.state.puk_default),
                };
                tlv::write(&mut out, 0x01, &[0xFF]);
                tlv::write(&mut out, 0x05, &[u8::from(default)]);
                tlv::write(&mut out, 0x06, &[pin.policy().max_tries, pin.tries_left()]);
            }
            KeyRef::Management => {
                let m = &self.state.mgmt;
                tlv::write(&mut out, 0x01, &[m.key.algorithm().piv_id()]);
                tlv::write(&mut out, 0x02, &[0x00, m.touch.byte()]);
                tlv::write(&mut out, 0x05, &[u8::from(m.default)]);
            }
            KeyRef::Slot(slot) => {
                let record = self
                    .state
                    .keys
                    .get(&slot)
                    .ok_or(Status::ReferencedDataNotFound)?;
                tlv::write(
                    &mut out,
                    0x01,
                    &[super::types::key_alg_id(record.key.algorithm())],
                );
                tlv::write(
                    &mut out,
                    0x02,
                    &[record.pin_policy.byte(), record.touch_policy.byte()],
                );
                tlv::write(&mut out, 0x03, &[record.origin.byte()]);
                tlv::write(&mut out, 0x04, &public_key_fields(record.key.public()));
            }
        }
        Ok(out)
    }

    /// SET MANAGEMENT KEY: needs the management key.
    pub(super) fn set_management_key(
        &mut self,
        key: SymKey,
        touch: TouchPolicy,
    ) -> Result<(), Status> {
        self.require_mgmt()?;
        self.state.mgmt = MgmtKey {
            default: is_default(&key, self.identity),
            key,
            touch,
        };
        Ok(())
    }

    /// RESET: only when both the PIN and the PUK are blocked (else 6985). Everything
    /// returns to the identity's defaults (a YubiKey's: PIN 123456, AES-192 management
    /// key) but the serial number and the attestation key.
    pub(super) fn reset_card(&mut self, rng: &mut dyn CardRng) -> Result<(), Status> {
        if !(self.state.pin.is_blocked() && self.state.puk.is_blocked()) {
            return Err(Status::ConditionsNotSatisfied);
        }
        let defaults = CardOptions::new(self.identity.profile());
        let mut fresh = fresh_state(&defaults, self.identity, self.state.serial, rng)?;
        if let Some(att) = self.state.keys.remove(&Slot::Attestation) {
            fresh.keys.insert(Slot::Attestation, att);
        }
        let att_tag = Slot::Attestation.cert_tag();
        if let Some(cert) = self.state.objects.remove(&att_tag) {
            fresh.objects.insert(att_tag, cert);
        }
        self.state = fresh;
        self.vol.clear();
        Ok(())
    }

    /// SET PIN RETRIES: needs the management key and the PIN. Sets both limits (1..=15,
    /// else 6A86) and, as YubiKeys do, returns the PIN and PUK to their defaults.
    pub(super) fn set_pin_retries(&mut self, pin: u8, puk: u8) -> Result<(), Status> {
        self.require_mgmt()?;
        self.require_pin()?;
        if !(1..=15).contains(&pin) || !(1..=15).contains(&puk) {
            return Err(Status::IncorrectP1P2);
        }
        let mut new_pin = Pin::new(self.identity.default_pin(), PIN_POLICY)?;
        new_pin.set_max_tries(pin)?;
        let mut new_puk = Pin::new(self.identity.default_puk(), PIN_POLICY)?;
        new_puk.set_max_tries(puk)?;
        self.state.pin = new_pin;
        self.state.puk = new_puk;
        self.state.pin_default = true;
        self.state.puk_default = true;
        Ok(())
    }

    /// MOVE KEY (firmware 5.7): needs the management key. The key of `from`, with its
    /// policies and origin, moves to the empty slot `to` (6A80 if `to` holds a key, as ykman
    /// reads it: "DEST slot is not empty"); `to` = `None` deletes it. 6A88 when `from` is
    /// empty. Certificates are data objects and stay where they are (yubikit).
    pub(super) fn move_key(&mut self, from: Slot, to: Option<Slot>) -> Result<(), Status> {
        self.require_mgmt()?;
        if !self.state.keys.contains_key(&from) {
            return Err(Status::ReferencedDataNotFound);
        }
        if let Some(to) = to {
            if to == from || self.state.keys.contains_key(&to) {
                return Err(Status::WrongData);
            }
        }
        let record = self
            .state
            .keys
            .remove(&from)
            .ok_or(Status::ReferencedDataNotFound)?;
        if let Some(to) = to {
            self.state.keys.insert(to, record);
        }
        Ok(())
    }

    /// ATTEST: the certificate of a key generated in `slot`, signed by the attestation
    /// key. 6A80 for an empty slot and for an imported key, as a YubiKey answers (piv-go's
    /// `Attest` reads 6A80 as "no key in the slot").
    pub(super) fn attest(&self, slot: Slot, rng: &mut dyn CardRng) -> Result<Vec<u8>, Status> {
        if slot == Slot::Attestation {
            return Err(Status::IncorrectP1P2);
        }
        let record = self.state.keys.get(&slot).ok_or(Status::WrongData)?;
        if record.origin != Origin::Generated {
            return Err(Status::WrongData);
        }
        let signer = self
            .state
            .keys
            .get(&Slot::Attestation)
            .ok_or(Status::ReferencedDataNotFound)?;
        let subject = attest::Subject {
            key_ref: slot.key_ref(),
            public: record.key.public(),
            pin_policy: record.pin_policy,
            touch_policy: record.touch_policy,
            serial: self.state.serial,
            firmware: self.identity.version(),
        };
        attest::attest(&signer.key, &subject, rng)
    }
}
