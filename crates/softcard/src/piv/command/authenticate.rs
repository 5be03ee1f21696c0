//! GENERAL AUTHENTICATE (SP 800-73-4 Part 2 section 3.2.4): the dynamic authentication
//! template and the key reference, read into the management key's steps or a slot's
//! private-key operation.

use super::MANAGEMENT_KEY;
use crate::{
    Status,
    crypto::{KeyAlgorithm, sym::SymAlg},
    piv::types::{Slot, key_alg_from_id},
    tlv,
};

/// P1 of GENERAL AUTHENTICATE with the management key: the algorithm the host expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MgmtAlgId {
    /// 00: the legacy identifier of 3DES, which OpenSC also sends to ask for random bytes
    /// (`81 00` alone) whatever the key's algorithm.
    Legacy,
    /// 03, 08, 0A or 0C (SP 800-78-4 Table 6-2).
    Named(SymAlg),
    /// Any other identifier: no management key has it (6A86).
    Unknown,
}

/// One step of the management key's authentication (GENERAL AUTHENTICATE with key 9B).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MgmtStep<'a> {
    /// `80 00`: mutual authentication, step 1 (the card sends an encrypted witness).
    WitnessRequest,
    /// `80 witness 81 challenge [82 00]`: mutual authentication, step 2.
    MutualResponse {
        /// The decrypted witness.
        witness: &'a [u8],
        /// The host's challenge, to be encrypted.
        challenge: &'a [u8],
    },
    /// `81 00`: the card sends a challenge (external authentication, or random bytes).
    ChallengeRequest,
    /// `82 response`: external authentication, step 2.
    ChallengeResponse(&'a [u8]),
}

/// What GENERAL AUTHENTICATE asks of a slot's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrivateOp<'a> {
    /// `82 00 81 data`: a signature or an RSA decryption.
    Sign(&'a [u8]),
    /// `82 00 85 point`: ECDH key agreement.
    KeyAgreement(&'a [u8]),
    /// A management-key step: 6A80, once the slot's own conditions are checked.
    NoKeyOperation,
}

/// GENERAL AUTHENTICATE (INS 87), by the key P2 names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticate<'a> {
    /// Key 9B: one step of the management key's authentication.
    Management {
        /// P1.
        alg: MgmtAlgId,
        /// The template's step.
        step: MgmtStep<'a>,
    },
    /// A private-key operation with the key of a slot (never the attestation slot).
    Private {
        /// P1: the key algorithm the host expects; `None` for an identifier of none.
        alg: Option<KeyAlgorithm>,
        /// P2.
        slot: Slot,
        /// The template's operation.
        op: PrivateOp<'a>,
    },
}

/// The dynamic authentication template (tag 7C), by form.
enum AuthRequest<'a> {
    /// A step of a symmetric authentication.
    Mgmt(MgmtStep<'a>),
    /// A private-key operation.
    Private(PrivateOp<'a>),
}

fn parse_template(data: &[u8]) -> Result<AuthRequest<'_>, Status> {
    let template = tlv::expect_single(data, 0x7C)?;
    let (mut witness, mut challenge, mut response, mut exp) = (None, None, None, None);
    for item in tlv::iter(template) {
        let item = item?;
        let field = match item.tag {
            0x80 => &mut witness,
            0x81 => &mut challenge,
            0x82 => &mut response,
            0x85 => &mut exp,
            _ => return Err(Status::WrongData),
        };
        if field.replace(item.value).is_some() {
            return Err(Status::WrongData);
        }
    }
    let empty = |v: Option<&[u8]>| v.is_some_and(<[u8]>::is_empty);
    let full = |v: Option<&[u8]>| v.is_some_and(|v| !v.is_empty());
    Ok(match (witness, challenge, response, exp) {
        (Some([]), None, None, None) => AuthRequest::Mgmt(MgmtStep::WitnessRequest),
        (Some(w), Some(c), r, None)
            if !w.is_empty() && !c.is_empty() && (r.is_none() || empty(r)) =>
        {
            AuthRequest::Mgmt(MgmtStep::MutualResponse {
                witness: w,
                challenge: c,
            })
        }
        (None, Some([]), None, None) => AuthRequest::Mgmt(MgmtStep::ChallengeRequest),
        (None, None, Some(r), None) if !r.is_empty() => {
            AuthRequest::Mgmt(MgmtStep::ChallengeResponse(r))
        }
        (None, c, r, None) if empty(r) && full(c) => {
            AuthRequest::Private(PrivateOp::Sign(c.unwrap_or_default()))
        }
        (None, None, r, e) if empty(r) && full(e) => {
            AuthRequest::Private(PrivateOp::KeyAgreement(e.unwrap_or_default()))
        }
        _ => return Err(Status::WrongData),
    })
}

/// GENERAL AUTHENTICATE, SP 800-73-4 Part 2 section 3.2.4: the template first (6A80), then
/// the key (6A88 for none; 6A86 for the attestation key, or a management key asked to sign).
pub(super) fn parse(p1: u8, p2: u8, data: &[u8]) -> Result<Authenticate<'_>, Status> {
    let request = parse_template(data)?;
    if p2 == MANAGEMENT_KEY {
        let AuthRequest::Mgmt(step) = request else {
            // The management key is no signing key.
            return Err(Status::IncorrectP1P2);
        };
        let alg = match p1 {
            0x00 => MgmtAlgId::Legacy,
            id => SymAlg::from_piv_id(id).map_or(MgmtAlgId::Unknown, MgmtAlgId::Named),
        };
        return Ok(Authenticate::Management { alg, step });
    }
    let slot = match Slot::from_ref(p2) {
        None => return Err(Status::ReferencedDataNotFound),
        Some(Slot::Attestation) => return Err(Status::IncorrectP1P2),
        Some(slot) => slot,
    };
    let op = match request {
        AuthRequest::Private(op) => op,
        AuthRequest::Mgmt(_) => PrivateOp::NoKeyOperation,
    };
    Ok(Authenticate::Private {
        alg: key_alg_from_id(p1),
        slot,
        op,
    })
}
