//! Shared pieces of softcard's benchmarks: the message every benchmark signs, host-side
//! PKCS#1 v1.5 padding, the APDUs of the sign commands, and cards provisioned with an
//! RSA-2048 key ready to sign.
//!
//! The criterion benches live in `benches/` (one bench target per layer: `crypto`, `card`,
//! `pcsc_inprocess`, `pcsc_client`); `softcard-bench-card` writes provisioned card images
//! for the out-of-process layers and `softcard-bench-report` turns criterion's results into
//! the tables and plots of `docs/performance.md`.
#![forbid(unsafe_code)]

pub mod report;
pub mod svg;

use softcard::crypto::{BackendKind, HashAlg};
use softcard::{Card, CardOptions, Profile, Storage, tlv};

/// The message whose SHA-256 digest every benchmark signs.
pub const MESSAGE: &[u8] = b"softcard benchmark: the signing hot path at every layer";

/// The default PIN of both profiles.
pub const PIN: &[u8] = b"12345678";

/// The default 3DES PIV management key.
pub const MANAGEMENT_KEY: [u8; 24] = softcard::profile::DEFAULT_ADMIN_KEY;

/// RSA-2048 modulus length in bytes.
pub const RSA2048_LEN: usize = 256;

/// The GIDS key reference the benchmarks create their key under.
pub const GIDS_KEY: u8 = 0x81;

/// SHA-256 of [`MESSAGE`].
pub fn digest() -> Vec<u8> {
    HashAlg::Sha256.digest(MESSAGE)
}

/// The DER DigestInfo of [`digest`] (51 bytes).
pub fn digest_info() -> Vec<u8> {
    HashAlg::Sha256.digest_info(&digest())
}

/// The PKCS#1 v1.5 signature block (type 1) of `digest_info` for a modulus of `len` bytes:
/// `00 01 FF..FF 00 DigestInfo`, as a host pads before a raw RSA private operation.
///
/// # Panics
/// If `digest_info` does not fit (it needs 11 bytes of padding).
pub fn pkcs1_block(digest_info: &[u8], len: usize) -> Vec<u8> {
    assert!(
        digest_info.len() + 11 <= len,
        "DigestInfo too long for the modulus"
    );
    let mut block = vec![0x00, 0x01];
    block.resize(len - digest_info.len() - 1, 0xFF);
    block.push(0x00);
    block.extend_from_slice(digest_info);
    block
}

/// Command APDUs of the benchmarked operations.
pub mod apdu {
    use softcard::tlv;

    /// Encodes a case 3/4 command; extended length when the data or `le` need it.
    ///
    /// # Panics
    /// Never for the sizes used here (data up to 65,535 bytes).
    pub fn command(ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
        softcard_test_support::cmd(ins, p1, p2, data, le)
    }

    /// SELECT by AID.
    pub fn select(aid: &[u8]) -> Vec<u8> {
        softcard_test_support::select_command(aid)
    }

    /// VERIFY of the user PIN (key reference 80), PIV-padded to 8 bytes with FF.
    pub fn verify_pin(pin: &[u8]) -> Vec<u8> {
        let mut padded = pin.to_vec();
        padded.resize(padded.len().max(8), 0xFF);
        command(0x20, 0x00, 0x80, &padded, None)
    }

    /// The Yubico GET VERSION (`00 FD 00 00 00`): the cheapest PIV command, the bare round
    /// trip.
    pub const PIV_GET_VERSION: [u8; 5] = [0x00, 0xFD, 0x00, 0x00, 0x00];

    /// PIV GENERAL AUTHENTICATE with the RSA-2048 key of slot 9A over a host-padded block:
    /// `00 87 07 9A 7C { 82 00, 81 len block }`, extended length (SP 800-73-4 Part 2
    /// section 3.2.4).
    pub fn piv_sign(block: &[u8]) -> Vec<u8> {
        let mut inner = tlv::encode(0x82, &[]);
        tlv::write(&mut inner, 0x81, block);
        command(0x87, 0x07, 0x9A, &tlv::encode(0x7C, &inner), Some(65_536))
    }

    /// GIDS MANAGE SECURITY ENVIRONMENT for a PKCS#1 v1.5 signature (algorithm 57, the card
    /// pads) with key `key`.
    pub fn gids_mse_sign(key: u8) -> Vec<u8> {
        vec![
            0x00, 0x22, 0x41, 0xB6, 0x06, 0x80, 0x01, 0x57, 0x84, 0x01, key,
        ]
    }

    /// GIDS PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE over a DigestInfo
    /// (`00 2A 9E 9A Lc DigestInfo 00`).
    pub fn gids_sign(digest_info: &[u8]) -> Vec<u8> {
        command(0x2A, 0x9E, 0x9A, digest_info, Some(256))
    }
}

/// Anything that carries one command APDU to a card and brings back its response
/// (data || SW1 SW2).
pub trait Transmit {
    /// Sends `apdu`, returns the response with its status word.
    ///
    /// # Errors
    /// A transport failure, as text.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String>;
}

impl Transmit for Card {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
        Ok(Card::transmit(self, apdu))
    }
}

/// Sends a command, follows `61xx` with GET RESPONSE, and requires `9000`.
///
/// # Errors
/// A transport failure or any other status word, naming `what`.
pub fn exchange(card: &mut dyn Transmit, apdu: &[u8], what: &str) -> Result<Vec<u8>, String> {
    match softcard_test_support::exchange(|a| card.transmit(a), apdu)? {
        (data, 0x9000) => Ok(data),
        (_, sw) => Err(format!("{what}: status {sw:04X}")),
    }
}

/// An RSA public key as the card reported it (big-endian modulus and exponent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublic {
    /// Modulus.
    pub n: Vec<u8>,
    /// Public exponent.
    pub e: Vec<u8>,
}

impl RsaPublic {
    /// Parses a `7F49 { 81 n, 82 e }` template.
    ///
    /// # Errors
    /// A malformed template.
    pub fn from_7f49(bytes: &[u8]) -> Result<Self, String> {
        let inner = tlv::expect_single(bytes, 0x7F49).map_err(|e| format!("7F49: {e:?}"))?;
        let find = |tag| {
            tlv::find(inner, tag)
                .ok()
                .flatten()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("7F49 without tag {tag:02X}"))
        };
        Ok(RsaPublic {
            n: find(0x81)?,
            e: find(0x82)?,
        })
    }

    /// Verifies a PKCS#1 v1.5 signature over the SHA-256 digest `digest`.
    ///
    /// # Errors
    /// A malformed key or a signature that does not verify.
    pub fn verify(&self, digest: &[u8], signature: &[u8]) -> Result<(), String> {
        use rsa::{BoxedUint, Pkcs1v15Sign};
        let bits = u32::try_from(self.n.len() * 8).map_err(|e| e.to_string())?;
        let n = BoxedUint::from_be_slice(&self.n, bits).map_err(|e| format!("{e:?}"))?;
        let e = BoxedUint::from_be_slice(&self.e, 64).map_err(|e| format!("{e:?}"))?;
        let key = rsa::PublicKey::new(n, e).map_err(|e| e.to_string())?;
        key.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature)
            .map_err(|e| e.to_string())
    }
}

/// Checks that `signature` is the PKCS#1 v1.5 signature of [`digest_info`] under `public`.
///
/// # Errors
/// A signature that does not open to the expected block.
pub fn check_signature(public: &RsaPublic, signature: &[u8]) -> Result<(), String> {
    public
        .verify(&digest(), signature)
        .map_err(|e| format!("the card's signature does not verify: {e}"))
}

/// PIV: selects the applet, authenticates with the default management key, generates an
/// RSA-2048 key in slot 9A and returns its public key. Leaves the PIN unverified.
///
/// # Errors
/// Any command that fails, named.
pub fn provision_piv(card: &mut dyn Transmit) -> Result<RsaPublic, String> {
    use softcard::crypto::sym::{SymAlg, SymKey};
    exchange(card, &apdu::select(softcard::piv::AID), "SELECT PIV")?;
    let key = SymKey::from_bytes(SymAlg::Tdes, &MANAGEMENT_KEY).map_err(|e| e.to_string())?;
    let witness_request = tlv::encode(0x7C, &tlv::encode(0x80, &[]));
    let r = exchange(
        card,
        &apdu::command(0x87, 0x03, 0x9B, &witness_request, Some(256)),
        "GENERAL AUTHENTICATE (witness)",
    )?;
    let inner = tlv::expect_single(&r, 0x7C).map_err(|e| format!("witness: {e:?}"))?;
    let mut witness = tlv::expect_single(inner, 0x80)
        .map_err(|e| format!("witness: {e:?}"))?
        .to_vec();
    key.decrypt_block(&mut witness).map_err(|e| e.to_string())?;
    let challenge = [0x5Au8; 8];
    let mut answer = tlv::encode(0x80, &witness);
    tlv::write(&mut answer, 0x81, &challenge);
    exchange(
        card,
        &apdu::command(0x87, 0x03, 0x9B, &tlv::encode(0x7C, &answer), Some(256)),
        "GENERAL AUTHENTICATE (response)",
    )?;
    let template = tlv::encode(0xAC, &tlv::encode(0x80, &[0x07]));
    let r = exchange(
        card,
        &apdu::command(0x47, 0x00, 0x9A, &template, Some(65_536)),
        "GENERATE ASYMMETRIC KEY PAIR 9A",
    )?;
    RsaPublic::from_7f49(&r)
}

/// PIV: selects the applet and verifies the PIN, as a client does once per session.
///
/// # Errors
/// Any command that fails, named.
pub fn login_piv(card: &mut dyn Transmit) -> Result<(), String> {
    exchange(card, &apdu::select(softcard::piv::AID), "SELECT PIV")?;
    exchange(card, &apdu::verify_pin(PIN), "VERIFY").map(drop)
}

/// PIV: one signature by GENERAL AUTHENTICATE; returns the signature.
///
/// # Errors
/// Any failure, or a malformed response.
pub fn piv_sign(card: &mut dyn Transmit, command: &[u8]) -> Result<Vec<u8>, String> {
    let r = exchange(card, command, "GENERAL AUTHENTICATE (sign)")?;
    let inner = tlv::expect_single(&r, 0x7C).map_err(|e| format!("7C: {e:?}"))?;
    tlv::expect_single(inner, 0x82)
        .map(<[u8]>::to_vec)
        .map_err(|e| format!("82: {e:?}"))
}

/// GIDS: selects the applet, verifies the PIN, creates and activates a key file and
/// generates an RSA-2048 key in it ([`GIDS_KEY`]); returns its public key.
///
/// # Errors
/// Any command that fails, named.
pub fn provision_gids(card: &mut dyn Transmit) -> Result<RsaPublic, String> {
    login_gids(card)?;
    let fcp = softcard_test_support::gids::keyexchange_fcp(GIDS_KEY, 0x07);
    exchange(
        card,
        &apdu::command(0xE0, 0, 0, &fcp, None),
        "CREATE FILE (key)",
    )?;
    exchange(card, &[0x00, 0x44, 0x00, 0x00], "ACTIVATE FILE")?;
    let generate = [
        0x00, 0x47, 0x00, 0x00, 0x08, 0xAC, 0x06, 0x80, 0x01, 0x07, 0x83, 0x01, GIDS_KEY,
    ];
    exchange(card, &generate, "GENERATE ASYMMETRIC KEY PAIR")?;
    let read = [
        0x70, 0x08, 0x84, 0x01, GIDS_KEY, 0xA5, 0x03, 0x7F, 0x49, 0x80,
    ];
    let r = exchange(
        card,
        &apdu::command(0xCB, 0x3F, 0xFF, &read, Some(65_536)),
        "GET DATA (public key)",
    )?;
    RsaPublic::from_7f49(&r)
}

/// GIDS: selects the applet and verifies the PIN (unpadded, as GIDS wants it).
///
/// # Errors
/// Any command that fails, named.
pub fn login_gids(card: &mut dyn Transmit) -> Result<(), String> {
    exchange(card, &apdu::select(softcard::gids::AID), "SELECT GIDS")?;
    exchange(card, &apdu::command(0x20, 0x00, 0x80, PIN, None), "VERIFY").map(drop)
}

/// GIDS: one signature as the minidriver makes it, MSE then PSO:CDS; returns the signature.
///
/// # Errors
/// Any command that fails, named.
pub fn gids_sign(card: &mut dyn Transmit, mse: &[u8], pso: &[u8]) -> Result<Vec<u8>, String> {
    exchange(card, mse, "MANAGE SECURITY ENVIRONMENT")?;
    exchange(card, pso, "PSO: COMPUTE DIGITAL SIGNATURE")
}

/// A provisioned card of `profile` whose keys use `backend`, its storage, and the public
/// key of its signing key. The PIN is verified and the applet selected: the next command
/// can sign. Seeded: **for benchmarks only**.
///
/// # Errors
/// Card creation or provisioning failures.
pub fn provisioned_card(
    profile: Profile,
    backend: BackendKind,
    storage: Box<dyn Storage>,
) -> Result<(Card, RsaPublic), String> {
    let mut opts = CardOptions::new(profile);
    opts.backend = backend;
    let mut card = Card::create_seeded(&opts, 0x5EED, storage).map_err(|e| e.to_string())?;
    let public = match profile {
        Profile::Piv => {
            let public = provision_piv(&mut card)?;
            login_piv(&mut card)?;
            public
        }
        Profile::WindowsVsc => provision_gids(&mut card)?,
        Profile::Yubikey | Profile::Yubikey54 => {
            return Err("the benchmarks provision piv and windows-vsc cards".into());
        }
    };
    Ok((card, public))
}

/// The label criterion uses for a backend.
pub fn backend_label(backend: BackendKind) -> &'static str {
    match backend {
        BackendKind::RustCrypto => "RustCrypto",
        BackendKind::AwsLc => "aws-lc",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use softcard::NoStorage;

    #[test]
    fn pkcs1_block_layout() {
        let info = digest_info();
        let block = pkcs1_block(&info, RSA2048_LEN);
        assert_eq!(block.len(), RSA2048_LEN);
        assert_eq!(&block[..2], &[0x00, 0x01]);
        assert_eq!(block[RSA2048_LEN - info.len() - 1], 0x00);
        assert!(
            block[2..RSA2048_LEN - info.len() - 1]
                .iter()
                .all(|b| *b == 0xFF)
        );
        assert!(block.ends_with(&info));
    }

    #[test]
    fn provisioned_cards_sign_verifiably_and_reject_a_wrong_digest() {
        let info = digest_info();
        let (mut piv, public) =
            provisioned_card(Profile::Piv, BackendKind::RustCrypto, Box::new(NoStorage)).unwrap();
        let sig = piv_sign(&mut piv, &apdu::piv_sign(&pkcs1_block(&info, RSA2048_LEN))).unwrap();
        check_signature(&public, &sig).unwrap();
        assert!(
            public
                .verify(&HashAlg::Sha256.digest(b"other"), &sig)
                .is_err()
        );

        let (mut gids, public) =
            provisioned_card(Profile::WindowsVsc, BackendKind::AwsLc, Box::new(NoStorage)).unwrap();
        let sig = gids_sign(
            &mut gids,
            &apdu::gids_mse_sign(GIDS_KEY),
            &apdu::gids_sign(&info),
        )
        .unwrap();
        check_signature(&public, &sig).unwrap();
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(svg::human(0.0), "0");
        assert_eq!(svg::human(69.74), "69.7 ns");
        assert_eq!(svg::human(1_634_000.0), "1.63 ms");
        assert_eq!(svg::human(200e6), "200 ms");
    }
}
