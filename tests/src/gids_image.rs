//! Reading a GIDS card image the way a card reader would ([`ImageCard`]) with GET DATA,
//! so that tests can check what a client wrote with softcard's own `gids::minidriver`
//! parsers.

use std::path::Path;

use softcard::gids::minidriver::{self, ContainerMapRecord};

use crate::card_image::ImageCard;

/// A GIDS card loaded from an image, answering in memory.
pub struct GidsImage {
    card: ImageCard,
}

impl GidsImage {
    /// Loads the image and selects the GIDS application.
    ///
    /// # Panics
    /// If the image cannot be read or loaded, or the application is not there.
    pub fn load(image: &Path) -> GidsImage {
        let mut this = GidsImage {
            card: ImageCard::load(image),
        };
        let (_, sw) = this.transmit(softcard_test_support::gids::SELECT);
        assert_eq!(sw, 0x9000, "SELECT of the GIDS application");
        this
    }

    /// The card's ATR.
    pub fn atr(&self) -> &[u8] {
        self.card.atr()
    }

    /// Sends one APDU, collecting `61xx` continuations; returns the data and the final
    /// status word.
    pub fn transmit(&mut self, apdu: &[u8]) -> (Vec<u8>, u16) {
        self.card.transmit(apdu)
    }

    /// GET DATA of data object `dobj` in EF `ef`: its value, or the status word.
    ///
    /// # Errors
    /// The card's status word when it is not `9000`.
    pub fn get_data(&mut self, ef: u16, dobj: u16) -> Result<Vec<u8>, u16> {
        let [e1, e2] = ef.to_be_bytes();
        let [d1, d2] = dobj.to_be_bytes();
        let (resp, sw) = self.transmit(&[0x00, 0xCB, e1, e2, 0x04, 0x5C, 0x02, d1, d2, 0x00]);
        if sw != 0x9000 {
            return Err(sw);
        }
        let (tlv, _) = softcard::tlv::parse_one(&resp).expect("a DO in the GET DATA answer");
        assert_eq!(
            tlv.tag,
            u32::from(dobj),
            "GET DATA answers the DO asked for"
        );
        Ok(tlv.value.to_vec())
    }

    /// The `cardid` (A012/DF20).
    pub fn card_id(&mut self) -> Vec<u8> {
        self.get_data(
            minidriver::EVERYONE_READ_ADMIN_WRITE_EF,
            minidriver::CARDID_DO,
        )
        .expect("cardid")
    }

    /// The records of `mscp/cmapfile` (A010/DF23).
    pub fn containers(&mut self) -> Vec<ContainerMapRecord> {
        let bytes = self
            .get_data(
                minidriver::EVERYONE_READ_USER_WRITE_EF,
                minidriver::CMAPFILE_DO,
            )
            .unwrap_or_default();
        minidriver::parse_cmapfile(&bytes)
    }

    /// The key map (A000/DF20, readable after the user PIN): version byte 01, then one
    /// record of [`softcard_enroll::minidriver::KEYMAP_RECORD_LEN`] bytes per container.
    ///
    /// # Panics
    /// If `pin` is refused or the key map cannot be read.
    pub fn keymap(&mut self, pin: &[u8]) -> Vec<u8> {
        let (_, sw) = self.transmit(&softcard_test_support::verify_command(pin));
        assert_eq!(sw, 0x9000, "VERIFY of the user PIN");
        self.get_data(
            minidriver::USER_CREATE_DELETE_EF,
            softcard_enroll::minidriver::KEYMAP_DO,
        )
        .unwrap_or_else(|sw| panic!("GET DATA of the key map: {sw:04X}"))
    }

    /// The minidriver file `dir/name` (found in the master file), decompressed when it is
    /// a certificate (`mscp/k?cNN`).
    pub fn file(&mut self, dir: &str, name: &str) -> Option<Vec<u8>> {
        let master = self
            .get_data(
                minidriver::USER_CREATE_DELETE_EF,
                minidriver::MASTER_FILE_DO,
            )
            .ok()?;
        let entry = minidriver::parse_master_file(&master)
            .ok()?
            .into_iter()
            .find(|e| e.directory == dir && e.name == name)?;
        let bytes = self.get_data(entry.ef, entry.data_object).ok()?;
        if dir == "mscp" && (name.starts_with("ksc") || name.starts_with("kxc")) {
            softcard_enroll::minidriver::decompress_certificate(&bytes).ok()
        } else {
            Some(bytes)
        }
    }
}
