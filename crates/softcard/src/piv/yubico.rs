//! The Yubico extensions clients expect of a PIV card: GET VERSION (FD), GET SERIAL (F8),
//! GET METADATA (F7), SET MANAGEMENT KEY (FF), RESET (FB), SET PIN RETRIES (FA) and
//! ATTEST (F9). IMPORT KEY (FE) is in the keys module.

use super::{
    PivApplet, VERSION, attest,
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
    options::{DEFAULT_ADMIN_KEY, DEFAULT_PIN, DEFAULT_PUK},
    tlv,
};

/// PIN and PUK length and retry rules: 6 to 8 characters, 3 tries.
pub const PIN_POLICY: PinPolicy = PinPolicy {
    min_len: 6,
    max_len: 8,
    max_tries: 3,
};

/// A fresh persistent state from the options (no attestation key yet).
pub fn fresh_state(
    opts: &CardOptions,
    serial: u32,
    rng: &mut dyn CardRng,
) -> Result<Persistent, Status> {
    let pin_value = opts.pin.as_ref().map_or(DEFAULT_PIN, Secret::expose);
    let puk_value = opts.puk.as_ref().map_or(DEFAULT_PUK, Secret::expose);
    let key = opts
        .admin_key
        .clone()
        .unwrap_or_else(|| Secret::from_slice(&DEFAULT_ADMIN_KEY));
    let alg = SymAlg::with_key_len(opts.admin_key_aes, key.len()).ok_or(Status::WrongData)?;
    let key = SymKey::from_bytes(alg, key.expose()).map_err(|_| Status::WrongData)?;
    Ok(Persistent {
        pin: Pin::new(pin_value, PIN_POLICY)?,
        puk: Pin::new(puk_value, PIN_POLICY)?,
        pin_default: pin_value == DEFAULT_PIN,
        puk_default: puk_value == DEFAULT_PUK,
        mgmt: MgmtKey {
            default: is_default(&key),
            key,
            touch: TouchPolicy::Never,
        },
        keys: Default::default(),
        objects: objects::defaults(rng),
        serial,
    })
}

/// Whether `key` is the well-known default management key (3DES only).
fn is_default(key: &SymKey) -> bool {
    key.algorithm() == SymAlg::Tdes && ct_eq(key.as_bytes(), &DEFAULT_ADMIN_KEY)
}

impl PivApplet {
    /// GET VERSION: three bytes, major minor patch.
    pub(super) fn get_version(&self) -> Vec<u8> {
        VERSION.to_vec()
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
            default: is_default(&key),
            key,
            touch,
        };
        Ok(())
    }

    /// RESET: only when both the PIN and the PUK are blocked (else 6985). Everything
    /// returns to the defaults but the serial number and the attestation key.
    pub(super) fn reset_card(&mut self, rng: &mut dyn CardRng) -> Result<(), Status> {
        if !(self.state.pin.is_blocked() && self.state.puk.is_blocked()) {
            return Err(Status::ConditionsNotSatisfied);
        }
        let defaults = CardOptions::new(crate::Profile::Piv);
        let mut fresh = fresh_state(&defaults, self.state.serial, rng)?;
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
        let mut new_pin = Pin::new(DEFAULT_PIN, PIN_POLICY)?;
        new_pin.set_max_tries(pin)?;
        let mut new_puk = Pin::new(DEFAULT_PUK, PIN_POLICY)?;
        new_puk.set_max_tries(puk)?;
        self.state.pin = new_pin;
        self.state.puk = new_puk;
        self.state.pin_default = true;
        self.state.puk_default = true;
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
        };
        attest::attest(&signer.key, &subject, rng)
    }
}
