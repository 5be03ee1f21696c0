//! Data objects: the defaults written at card creation, and GET DATA / PUT DATA
//! (SP 800-73-4 Part 1, section 3 and Table 3; Part 2, sections 3.1.2 and 3.3.2).

use std::collections::BTreeMap;

use super::{AID, PivApplet};
use crate::{Status, crypto::CardRng, tlv};

/// Card Holder Unique Identifier.
pub const CHUID: u32 = 0x5F_C102;
/// Card Capability Container.
pub const CCC: u32 = 0x5F_C107;
/// Discovery object.
pub const DISCOVERY: u32 = 0x7E;
/// Printed information.
pub const PRINTED_INFO: u32 = 0x5F_C109;

/// Objects readable only after the PIN (Part 1, Table 3: fingerprints, printed
/// information, facial image, iris images).
const PIN_PROTECTED: [u32; 4] = [0x5F_C103, PRINTED_INFO, 0x5F_C108, 0x5F_C121];

/// Whether `tag` names a data object this card stores: any three-byte tag 5F0000..5FFFFF
/// (the PIV objects 5FC101..5FC123, Yubico's 5FFF00..5FFF15 and the rest of the range,
/// which a YubiKey stores as well: ykman's `piv objects import` documents the range and its
/// device tests write 5F0001), the discovery object and the BIT group template.
pub fn is_known(tag: u32) -> bool {
    matches!(tag, 0x5F_0000..=0x5F_FFFF | DISCOVERY | 0x7F61)
}

/// The objects a new card carries: a CHUID with a random GUID, a CCC with a random card
/// identifier, and the discovery object.
pub fn defaults(rng: &mut dyn CardRng) -> BTreeMap<u32, Vec<u8>> {
    let mut guid = [0u8; 16];
    rng.fill_bytes(&mut guid);
    let mut chuid = Vec::new();
    tlv::write(&mut chuid, 0x30, &fasc_n());
    tlv::write(&mut chuid, 0x34, &guid);
    tlv::write(&mut chuid, 0x35, b"20991231");
    tlv::write(&mut chuid, 0x3E, &[]);
    tlv::write(&mut chuid, 0xFE, &[]);

    // Card identifier: GSC-RID, manufacturer ID, card type (PIV), 14 bytes card ID.
    let mut card_id = vec![0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02];
    let mut id = [0u8; 14];
    rng.fill_bytes(&mut id);
    card_id.extend_from_slice(&id);
    let mut ccc = Vec::new();
    tlv::write(&mut ccc, 0xF0, &card_id);
    tlv::write(&mut ccc, 0xF1, &[0x21]);
    tlv::write(&mut ccc, 0xF2, &[0x21]);
    tlv::write(&mut ccc, 0xF3, &[]);
    tlv::write(&mut ccc, 0xF4, &[0x00]);
    tlv::write(&mut ccc, 0xF5, &[0x10]);
    for tag in [0xF6, 0xF7, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE] {
        tlv::write(&mut ccc, tag, &[]);
    }

    let mut discovery = Vec::new();
    tlv::write(&mut discovery, 0x4F, AID);
    // PIN usage policy: the PIV card application PIN only; it is the primary PIN.
    tlv::write(&mut discovery, 0x5F2F, &[0x40, 0x00]);

    BTreeMap::from([(CHUID, chuid), (CCC, ccc), (DISCOVERY, discovery)])
}

/// A FASC-N (TIG SCEPACS) with agency, system and credential numbers 9999 / 9999 /
/// 999999, in its 200-bit BCD encoding: 5 bits per character (4 data bits, least
/// significant first, and an odd parity bit), ending with a longitudinal redundancy check.
fn fasc_n() -> Vec<u8> {
    const SS: u8 = 0xB;
    const FS: u8 = 0xD;
    const ES: u8 = 0xF;
    let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
    let mut chars = vec![SS];
    for (i, field) in ["9999", "9999", "999999", "1", "1"].iter().enumerate() {
        if i > 0 {
            chars.push(FS);
        }
        chars.extend(digits(field));
    }
    chars.push(FS);
    // Person identifier (10), organizational category (1), organization (4), association (1).
    chars.extend(digits("0000000000"));
    chars.extend(digits("1"));
    chars.extend(digits("9999"));
    chars.extend(digits("1"));
    chars.push(ES);
    let lrc = chars.iter().fold(0, |acc, c| acc ^ c);
    chars.push(lrc);
    let mut bits = Vec::with_capacity(200);
    for c in chars {
        let data = [c & 1, (c >> 1) & 1, (c >> 2) & 1, (c >> 3) & 1];
        let ones = data.iter().sum::<u8>();
        bits.extend_from_slice(&data);
        bits.push(u8::from(ones % 2 == 0));
    }
    bits.chunks(8)
        .map(|byte| byte.iter().fold(0, |acc, b| (acc << 1) | b))
        .collect()
}

impl PivApplet {
    /// GET DATA, SP 800-73-4 Part 2 section 3.1.2: `53 { content }` (`7E { ... }` for the
    /// discovery object). 6A82 for an empty or unknown object, 6982 for a PIN-protected
    /// object before VERIFY.
    pub(super) fn get_data(&self, tag: u32) -> Result<Vec<u8>, Status> {
        if !is_known(tag) {
            return Err(Status::FileNotFound);
        }
        if PIN_PROTECTED.contains(&tag) && !self.vol.pin_verified {
            return Err(Status::SecurityStatusNotSatisfied);
        }
        let content = self.state.objects.get(&tag).ok_or(Status::FileNotFound)?;
        let outer = if matches!(tag, DISCOVERY | 0x7F61) {
            tag
        } else {
            0x53
        };
        Ok(tlv::encode(outer, content))
    }

    /// PUT DATA, SP 800-73-4 Part 2 section 3.3.2: needs the management key. Empty
    /// content deletes the object. 6A80 for a tag that names no data object (a YubiKey's
    /// answer: ykman reads it as "is the object id valid?").
    pub(super) fn put_data(&mut self, tag: u32, content: &[u8]) -> Result<(), Status> {
        self.require_mgmt()?;
        if !is_known(tag) {
            return Err(Status::WrongData);
        }
        if content.is_empty() {
            self.state.objects.remove(&tag);
        } else {
            self.state.objects.insert(tag, content.to_vec());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fasc_n_is_200_bits_with_odd_parity() {
        let f = fasc_n();
        assert_eq!(f.len(), 25);
        // Starts with SS (11010) then the digit 9 (10011).
        assert_eq!(f[0], 0b1101_0100);
        assert_eq!(f[1] >> 6, 0b11);
    }
}
