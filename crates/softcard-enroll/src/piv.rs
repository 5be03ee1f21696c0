//! PIV (SP 800-73-4) as an enrollment client drives it: a container is a key slot, its
//! certificate the slot's data object.
//!
//! | key spec | slot | certificate object |
//! |---|---|---|
//! | Signature (default) | 9A PIV Authentication | 5FC105 |
//! | Exchange (default) | 9D Key Management | 5FC10B |
//! | given by name | 9C Digital Signature | 5FC10A |
//! | given by name | 9E Card Authentication | 5FC101 |

use softcard::Secret;
use softcard::crypto::sym::{SymAlg, SymKey};
use softcard::crypto::{CardRng, KeyAlgorithm, PublicKey};
use softcard::profile::DEFAULT_ADMIN_KEY;
use softcard::tlv;
use zeroize::Zeroizing;

use crate::applet::{Applet, SignOperation, sym_alg_by_length};
use crate::client::{
    Application, Container, ContainerName, KeyRequest, Unblock, new_pin_status, pin_status,
};
use crate::transport::{SW_OK, exchange};
use crate::{CardOperation, EnrollError, KeySpec, Transport, parse_certificates, public_key};

/// The PIV AID without its version bytes.
const AID_PREFIX: &[u8] = &[0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00];
/// The slots a client enrolls, with their certificate objects.
const SLOTS: [(u8, u8); 4] = [(0x9A, 0x05), (0x9C, 0x0A), (0x9D, 0x0B), (0x9E, 0x01)];
const MANAGEMENT_KEY: u8 = 0x9B;
/// What a PIV card answering 6A80 to a new PIN asks.
const PIN_RULES: &str =
    "the new PIN breaks the card's length rules (a PIV PIN has 6 to 8 characters)";
/// The slot whose key asks the PIN before every signature by default (SP 800-73-4).
const DIGITAL_SIGNATURE_SLOT: u8 = 0x9C;

fn bad(what: &'static str) -> EnrollError {
    EnrollError::Malformed(what)
}

/// A PIN or PUK as PIV sends it: 8 bytes, padded with FF.
fn pad8(value: &[u8], what: &str) -> Result<Zeroizing<[u8; 8]>, EnrollError> {
    let mut out = Zeroizing::new([0xFF; 8]);
    out.get_mut(..value.len())
        .ok_or_else(|| EnrollError::Unsupported(format!("a PIV {what} of more than 8 characters")))?
        .copy_from_slice(value);
    Ok(out)
}

/// Two padded PINs one after the other (old and new, or PUK and new PIN), wiped on drop.
fn pad16(first: &[u8], second: &[u8], what: &str) -> Result<Zeroizing<[u8; 16]>, EnrollError> {
    let mut out = Zeroizing::new([0u8; 16]);
    let (a, b) = out.split_at_mut(8);
    a.copy_from_slice(&*pad8(first, what)?);
    b.copy_from_slice(&*pad8(second, "PIN")?);
    Ok(out)
}

/// Whether the slot's key asks the PIN before every signature (PIN policy "always"): as
/// GET METADATA tells (tag 02, first byte 03), else by default slot 9C.
fn pin_always(t: &mut dyn Transport, slot: u8) -> Result<bool, EnrollError> {
    let policy = metadata(t, slot)?.and_then(|m| {
        tlv::find(&m, 0x02)
            .ok()
            .flatten()
            .and_then(|p| p.first().copied())
    });
    Ok(match policy {
        Some(0x03) => true,
        Some(0x01 | 0x02) => false,
        _ => slot == DIGITAL_SIGNATURE_SLOT,
    })
}

/// GET METADATA (Yubico extension): the answer's TLVs, `None` for an empty slot or a card
/// without the command.
fn metadata(t: &mut dyn Transport, reference: u8) -> Result<Option<Vec<u8>>, EnrollError> {
    let r = exchange(t, [0, 0xF7, 0, reference], &[], true)?;
    Ok((r.sw == SW_OK).then_some(r.data))
}

/// Authenticates with the management key: the card's challenge, encrypted with the key
/// (one block, ECB), SP 800-73-4 part 2 appendix A.
fn authenticate(t: &mut dyn Transport, key: Option<&ManagementKey>) -> Result<(), EnrollError> {
    let key = key.map_or(&DEFAULT_ADMIN_KEY[..], ManagementKey::expose);
    // The algorithm GET METADATA announces when the key fits it (a 24-byte key is 3DES
    // or AES-192), else the one of the key's length.
    let announced = metadata(t, MANAGEMENT_KEY)?.and_then(|m| match tlv::find(&m, 0x01) {
        Ok(Some(&[id])) => SymAlg::from_piv_id(id),
        _ => None,
    });
    let alg = announced
        .filter(|alg| alg.key_len() == key.len())
        .or_else(|| sym_alg_by_length(key.len()))
        .ok_or_else(|| {
            EnrollError::Unsupported(format!("a management key of {} bytes", key.len()))
        })?;
    let id = alg.piv_id();
    let sym = SymKey::from_bytes(alg, key)
        .map_err(|e| EnrollError::Unsupported(format!("management key: {e}")))?;
    let fail = |sw| EnrollError::AdminAuthentication {
        what: "management key",
        sw,
    };
    let r = exchange(t, [0, 0x87, id, MANAGEMENT_KEY], &[0x7C, 2, 0x81, 0], true)?;
    if r.sw != SW_OK {
        return Err(fail(r.sw));
    }
    let inner = tlv::expect_single(&r.data, 0x7C).map_err(|_| bad("GENERAL AUTHENTICATE"))?;
    let mut block = tlv::find(inner, 0x81)
        .ok()
        .flatten()
        .ok_or(bad("GENERAL AUTHENTICATE challenge"))?
        .to_vec();
    sym.encrypt_block(&mut block)
        .map_err(|_| bad("GENERAL AUTHENTICATE challenge"))?;
    let body = tlv::encode(0x7C, &tlv::encode(0x82, &block));
    let r = exchange(t, [0, 0x87, id, MANAGEMENT_KEY], &body, false)?;
    if r.sw != SW_OK {
        return Err(fail(r.sw));
    }
    Ok(())
}

/// Reads `81 n 82 e` or `86 point` (a P-256 or P-384 point, told apart by its length).
fn public_from(template: &[u8]) -> Result<PublicKey, EnrollError> {
    let get = |tag| tlv::find(template, tag).ok().flatten();
    match (get(0x81), get(0x82), get(0x86)) {
        (Some(n), Some(e), _) => Ok(PublicKey::Rsa {
            n: softcard::crypto::trim_leading_zeros(n).to_vec(),
            e: softcard::crypto::trim_leading_zeros(e).to_vec(),
        }),
        (_, _, Some(point)) => match point.len() {
            65 => Ok(PublicKey::P256 {
                point: point.to_vec(),
            }),
            97 => Ok(PublicKey::P384 {
                point: point.to_vec(),
            }),
            _ => Err(bad("PIV public key")),
        },
        _ => Err(bad("PIV public key")),
    }
}

fn slot_spec(slot: u8) -> KeySpec {
    if slot == 0x9D {
        KeySpec::Exchange
    } else {
        KeySpec::Signature
    }
}

fn object_of(slot: u8) -> Result<[u8; 3], EnrollError> {
    SLOTS
        .iter()
        .find(|(s, _)| *s == slot)
        .map(|(_, o)| [0x5F, 0xC1, *o])
        .ok_or_else(|| EnrollError::NoContainer(format!("{slot:02X}")))
}

fn read_object(t: &mut dyn Transport, slot: u8) -> Result<Option<Vec<u8>>, EnrollError> {
    let [a, b, c] = object_of(slot)?;
    let r = exchange(t, [0, 0xCB, 0x3F, 0xFF], &[0x5C, 3, a, b, c], true)?;
    if r.sw == 0x6A82 {
        return Ok(None);
    }
    let data = r.ok("GET DATA")?;
    let content = tlv::expect_single(&data, 0x53).map_err(|_| bad("PIV certificate object"))?;
    Ok(tlv::find(content, 0x70)
        .map_err(|_| bad("PIV certificate object"))?
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec))
}

/// The slot a key request names.
fn requested_slot(request: &KeyRequest) -> Result<u8, EnrollError> {
    Ok(match &request.container {
        ContainerName::Automatic if request.key_spec == KeySpec::Exchange => 0x9D,
        ContainerName::Automatic => 0x9A,
        ContainerName::Named(name) => u8::from_str_radix(name, 16)
            .ok()
            .filter(|s| SLOTS.iter().any(|(x, _)| x == s))
            .ok_or_else(|| {
                EnrollError::Unsupported(format!(
                    "PIV container {name:?}: name a slot, 9A, 9C, 9D or 9E"
                ))
            })?,
    })
}

/// GENERAL AUTHENTICATE `7C { 82 00, 81 input }`: raw RSA on a padded block, or ECDSA of
/// a digest.
fn sign(
    t: &mut dyn Transport,
    slot: u8,
    algorithm: KeyAlgorithm,
    input: &[u8],
) -> Result<Vec<u8>, EnrollError> {
    let mut inner = vec![0x82, 0x00];
    tlv::write(&mut inner, 0x81, input);
    let body = tlv::encode(0x7C, &inner);
    let r = exchange(t, [0, 0x87, algorithm.piv_id(), slot], &body, true)?;
    let data = r.ok("GENERAL AUTHENTICATE")?;
    let inner = tlv::expect_single(&data, 0x7C).map_err(|_| bad("GENERAL AUTHENTICATE"))?;
    tlv::find(inner, 0x82)
        .ok()
        .flatten()
        .map(<[u8]>::to_vec)
        .ok_or(bad("GENERAL AUTHENTICATE"))
}

/// The PIV management key (3DES, AES-128, AES-192 or AES-256): wiped when dropped, never
/// shown by `Debug`.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct ManagementKey(Vec<u8>);

impl ManagementKey {
    /// Copies the key bytes.
    pub(crate) fn new(key: &[u8]) -> Self {
        ManagementKey(key.to_vec())
    }

    /// The key bytes. Keep the borrow short; never log them.
    fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for ManagementKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ManagementKey({} bytes, redacted)", self.0.len())
    }
}

/// The PIV applet.
pub(crate) struct Piv;

impl Applet for Piv {
    fn application(&self) -> Application {
        Application::Piv
    }

    fn aid(&self) -> &'static [u8] {
        AID_PREFIX
    }

    fn verify_pin(&self, t: &mut dyn Transport, pin: &[u8]) -> Result<(), EnrollError> {
        let r = exchange(t, [0, 0x20, 0, 0x80], &*pad8(pin, "PIN")?, false)?;
        pin_status(r, "PIN", "VERIFY")
    }

    fn change_pin(&self, t: &mut dyn Transport, old: &[u8], new: &[u8]) -> Result<(), EnrollError> {
        let data = pad16(old, new, "PIN")?;
        let r = exchange(t, [0, 0x24, 0, 0x80], &*data, false)?;
        new_pin_status(r, "PIN", "CHANGE REFERENCE DATA", PIN_RULES)
    }

    /// RESET RETRY COUNTER with the PUK.
    fn unblock(
        &self,
        t: &mut dyn Transport,
        secret: Unblock<'_>,
        new: &[u8],
    ) -> Result<(), EnrollError> {
        let Unblock::Puk(puk) = secret else {
            return Err(EnrollError::Unsupported("PIV unblocks with the PUK".into()));
        };
        let data = pad16(puk, new, "PUK")?;
        let r = exchange(t, [0, 0x2C, 0, 0x80], &*data, false)?;
        new_pin_status(r, "PUK", "RESET RETRY COUNTER", PIN_RULES)
    }

    fn leaves_new_pin_verified(&self) -> bool {
        false
    }

    /// The slots holding a key: the key from GET METADATA, else from the certificate.
    fn containers(&self, t: &mut dyn Transport) -> Result<Vec<Container>, EnrollError> {
        let mut out = Vec::new();
        for (slot, _) in SLOTS {
            let cert = read_object(t, slot)?;
            let public_key = match metadata(t, slot)? {
                Some(m) => Some(public_from(
                    tlv::find(&m, 0x04).ok().flatten().unwrap_or_default(),
                )?),
                // Without GET METADATA, the certificate tells the key.
                None => match &cert {
                    Some(der) => parse_certificates(der)?
                        .first()
                        .and_then(|c| c.public_key().cloned()),
                    None => None,
                },
            };
            if let Some(public_key) = public_key {
                out.push(Container {
                    name: format!("{slot:02X}"),
                    key_spec: slot_spec(slot),
                    algorithm: public_key::algorithm(&public_key)?,
                    public_key,
                    key_reference: slot,
                    has_certificate: cert.is_some(),
                });
            }
        }
        Ok(out)
    }

    /// A slot, empty.
    fn check_key_request(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
    ) -> Result<(), EnrollError> {
        let slot = requested_slot(request)?;
        if self.containers(t)?.iter().any(|c| c.key_reference == slot) {
            return Err(EnrollError::ContainerExists(format!("{slot:02X}")));
        }
        Ok(())
    }

    /// GENERATE ASYMMETRIC KEY PAIR into the slot, after management-key authentication.
    fn create_key(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
        _rng: &mut dyn CardRng,
        management_key: Option<&ManagementKey>,
    ) -> Result<Container, EnrollError> {
        let slot = requested_slot(request)?;
        self.check_key_request(t, request)?;
        authenticate(t, management_key)?;
        let alg = request.algorithm.piv_id();
        let r = exchange(t, [0, 0x47, 0, slot], &[0xAC, 3, 0x80, 1, alg], true)?;
        let data = r.ok("GENERATE ASYMMETRIC KEY PAIR")?;
        let template = tlv::expect_single(&data, 0x7F49).map_err(|_| bad("PIV public key"))?;
        Ok(request.created(format!("{slot:02X}"), public_from(template)?, slot))
    }

    /// Raw RSA on a block padded by the host.
    fn rsa_operation(&self) -> CardOperation {
        CardOperation::RsaRaw
    }

    /// GENERAL AUTHENTICATE; a key whose PIN policy is "always" (slot 9C by default) gets
    /// the kept PIN verified again before each signature, as the card asks.
    fn sign_operation<'a>(
        &self,
        t: &'a mut dyn Transport,
        container: &Container,
        pin: Option<Secret>,
    ) -> SignOperation<'a> {
        let (slot, algorithm) = (container.key_reference, container.algorithm);
        // Whether the key asks the PIN before every signature; read on first use.
        let mut always: Option<bool> = None;
        Box::new(move |input| {
            if let Some(pin) = &pin {
                let always = match always {
                    Some(always) => always,
                    None => *always.insert(pin_always(t, slot)?),
                };
                if always {
                    Piv.verify_pin(t, pin.expose())?;
                }
            }
            sign(t, slot, algorithm, input)
        })
    }

    /// PUT DATA of the slot's certificate object `53 { 70 cert, 71 00, FE }`, after
    /// management-key authentication.
    fn write_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
        der: &[u8],
        management_key: Option<&ManagementKey>,
    ) -> Result<(), EnrollError> {
        let [a, b, c] = object_of(container.key_reference)?;
        authenticate(t, management_key)?;
        let mut content = tlv::encode(0x70, der);
        content.extend_from_slice(&[0x71, 1, 0x00, 0xFE, 0x00]);
        let mut body = vec![0x5C, 3, a, b, c];
        tlv::write(&mut body, 0x53, &content);
        exchange(t, [0, 0xDB, 0x3F, 0xFF], &body, false)?
            .ok("PUT DATA")
            .map(drop)
    }

    fn read_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
    ) -> Result<Option<Vec<u8>>, EnrollError> {
        read_object(t, container.key_reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_key_is_not_shown() {
        let key = ManagementKey::new(&[0x42; 24]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "ManagementKey(24 bytes, redacted)");
        assert!(!shown.contains("42") && !shown.contains("66"), "{shown}");
    }
}
