//! PINs and the management key: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER
//! (SP 800-73-4 Part 2, sections 3.2.1 to 3.2.3) and GENERAL AUTHENTICATE with key 9B
//! (section 3.2.4, Part 1 Appendix A.2).

use zeroize::Zeroizing;

use super::{
    PivApplet,
    command::{MgmtAlgId, MgmtStep, PinRef, Verify},
    state::{Pending, Persistent},
};
use crate::{Context, Pin, PinStore, Status, crypto::sym::SymAlg, tlv};

impl PinStore for Persistent {
    type Reference = PinRef;

    fn pin_mut(&mut self, which: PinRef) -> Result<&mut Pin, Status> {
        Ok(match which {
            PinRef::Pin => &mut self.pin,
            PinRef::Puk => &mut self.puk,
        })
    }
}

impl PivApplet {
    /// 6982 unless the management key was authenticated in this session.
    pub(super) fn require_mgmt(&self) -> Result<(), Status> {
        if self.vol.mgmt_authenticated {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    /// 6982 unless the PIN was verified in this session.
    pub(super) fn require_pin(&self) -> Result<(), Status> {
        if self.vol.pin_verified {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    /// VERIFY, section 3.2.1. The try is spent and written to the image before the
    /// comparison (anti-tearing).
    pub(super) fn verify(&mut self, op: Verify<'_>, ctx: &mut Context<'_>) -> Result<(), Status> {
        match op {
            Verify::Status if self.vol.pin_verified => Ok(()),
            Verify::Status => Err(self.state.pin.tries_status()),
            Verify::Logout => {
                self.vol.pin_verified = false;
                self.vol.pin_fresh = false;
                Ok(())
            }
            Verify::Check(value) => {
                self.vol.pin_verified = false;
                self.vol.pin_fresh = false;
                self.check_pin(PinRef::Pin, value, ctx)?;
                self.vol.pin_verified = true;
                self.vol.pin_fresh = true;
                Ok(())
            }
        }
    }

    /// Spends a try, writes it, compares ([`Context::verify_pin`]).
    fn check_pin(
        &mut self,
        which: PinRef,
        value: &[u8],
        ctx: &mut Context<'_>,
    ) -> Result<(), Status> {
        let result = ctx.verify_pin(&mut self.state, which, value);
        if result.is_err() && which == PinRef::Pin {
            // A wrong or blocked PIN ends the session's PIN authentication, whatever the
            // command that presented it (VERIFY or CHANGE REFERENCE DATA).
            self.vol.pin_verified = false;
            self.vol.pin_fresh = false;
        }
        result
    }

    /// CHANGE REFERENCE DATA, section 3.2.2: the current value is compared first (a try
    /// spent, 63Cx when wrong), then the new one is checked (6 to 8 characters, else 6A80,
    /// nothing changed but the counter the right value restored). A YubiKey answers in
    /// this order; ykman blocks the PUK with empty values and counts on the 63Cx.
    pub(super) fn change_reference(
        &mut self,
        which: PinRef,
        old: &[u8],
        new: &[u8],
        ctx: &mut Context<'_>,
    ) -> Result<(), Status> {
        self.check_pin(which, old, ctx)?;
        let policy = match which {
            PinRef::Pin => self.state.pin.policy(),
            PinRef::Puk => self.state.puk.policy(),
        };
        policy.check(new)?;
        match which {
            PinRef::Pin => {
                self.state.pin.set(new)?;
                self.state.pin_default = false;
                self.vol.pin_verified = true;
            }
            PinRef::Puk => {
                self.state.puk.set(new)?;
                self.state.puk_default = false;
            }
        }
        Ok(())
    }

    /// RESET RETRY COUNTER, section 3.2.3: the PUK sets a new PIN and unblocks it. As
    /// CHANGE REFERENCE DATA, the PUK is compared (a try spent) before the new PIN's
    /// length is checked: `ykman piv reset` blocks the PUK with `00 2C 00 80 10` and
    /// sixteen FF bytes, an empty PUK and an empty PIN, and expects 63Cx.
    pub(super) fn reset_retry_counter(
        &mut self,
        puk: &[u8],
        new_pin: &[u8],
        ctx: &mut Context<'_>,
    ) -> Result<(), Status> {
        self.check_pin(PinRef::Puk, puk, ctx)?;
        self.state.pin.policy().check(new_pin)?;
        self.state.pin.set(new_pin)?;
        self.state.pin_default = false;
        Ok(())
    }

    /// GENERAL AUTHENTICATE with the card management key (9B), section 3.2.4: mutual
    /// authentication (witness, then challenge) or the single challenge-response form.
    /// `81 00` alone also answers random bytes. Any failure forgets the authentication.
    pub(super) fn authenticate_mgmt(
        &mut self,
        alg: MgmtAlgId,
        request: MgmtStep<'_>,
        ctx: &mut Context<'_>,
    ) -> Result<Vec<u8>, Status> {
        let pending = self.vol.pending.take();
        let result = self.mgmt_step(alg, request, pending, ctx);
        if result.is_err() {
            self.vol.mgmt_authenticated = false;
            self.vol.pending = None;
        }
        result
    }

    fn mgmt_step(
        &mut self,
        alg: MgmtAlgId,
        request: MgmtStep<'_>,
        pending: Option<Pending>,
        ctx: &mut Context<'_>,
    ) -> Result<Vec<u8>, Status> {
        let key = &self.state.mgmt.key;
        let alg_matches = match alg {
            MgmtAlgId::Named(alg) => alg == key.algorithm(),
            MgmtAlgId::Legacy => {
                key.algorithm() == SymAlg::Tdes || matches!(request, MgmtStep::ChallengeRequest)
            }
            MgmtAlgId::Unknown => false,
        };
        if !alg_matches {
            return Err(Status::IncorrectP1P2);
        }
        let block = key.block_len();
        // One block, encrypted (ECB) into a new buffer.
        let encrypt = |block: &[u8]| -> Result<Zeroizing<Vec<u8>>, Status> {
            let mut out = Zeroizing::new(block.to_vec());
            key.encrypt_block(&mut out)?;
            Ok(out)
        };
        let mut random = || {
            let mut r = Zeroizing::new(vec![0u8; block]);
            ctx.rng.fill_bytes(&mut r);
            r
        };
        match request {
            MgmtStep::WitnessRequest => {
                self.vol.mgmt_authenticated = false;
                let witness = random();
                let sealed = encrypt(&witness)?;
                self.vol.pending = Some(Pending::Witness(witness));
                Ok(tlv::encode(0x7C, &tlv::encode(0x80, &sealed)))
            }
            MgmtStep::MutualResponse { witness, challenge } => {
                let Some(Pending::Witness(expected)) = pending else {
                    return Err(Status::ConditionsNotSatisfied);
                };
                if challenge.len() != block || !crate::Secret::from_slice(&expected).ct_eq(witness)
                {
                    return Err(Status::SecurityStatusNotSatisfied);
                }
                let answer = encrypt(challenge)?;
                self.vol.mgmt_authenticated = true;
                Ok(tlv::encode(0x7C, &tlv::encode(0x82, &answer)))
            }
            MgmtStep::ChallengeRequest => {
                self.vol.mgmt_authenticated = false;
                let challenge = random();
                let out = tlv::encode(0x7C, &tlv::encode(0x81, &challenge));
                self.vol.pending = Some(Pending::Challenge(challenge));
                Ok(out)
            }
            MgmtStep::ChallengeResponse(response) => {
                let Some(Pending::Challenge(challenge)) = pending else {
                    return Err(Status::ConditionsNotSatisfied);
                };
                let expected = encrypt(&challenge)?;
                if !crate::Secret::from_slice(&expected).ct_eq(response) {
                    return Err(Status::SecurityStatusNotSatisfied);
                }
                self.vol.mgmt_authenticated = true;
                Ok(Vec::new())
            }
        }
    }
}
