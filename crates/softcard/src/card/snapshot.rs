//! Snapshots: a card's whole persistent state taken in memory and put back later, for
//! test fixtures ("a card with a blocked PIN", "a card with three enrolled containers").
//!
//! A snapshot is the card's image bytes (the same bytes its storage holds), so taking one
//! costs one image encoding and restoring one costs loading an image. What is volatile
//! (the selected application, a verified PIN, a pending chain) is not in it: restoring
//! acts as a power cycle.

use zeroize::Zeroizing;

use super::{Card, Error, persist::Slot};
use crate::{ImageError, image};

/// A card's persistent state at one moment ([`Card::snapshot`]). It holds the card's
/// PINs and keys: it is wiped when dropped and its `Debug` shows none of it.
#[derive(Clone)]
pub struct Snapshot {
    image: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Snapshot")
            .field("len", &self.image.len())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// A snapshot from image bytes (a card image file's content, unencrypted).
    pub fn from_image(image: Vec<u8>) -> Snapshot {
        Snapshot {
            image: Zeroizing::new(image),
        }
    }

    /// The image bytes: [`Card::load`] makes a new card from them.
    pub fn image(&self) -> &[u8] {
        &self.image
    }
}

impl Card {
    /// Takes a snapshot of the card's persistent state.
    ///
    /// ```
    /// use softcard::{Card, CardOptions, NoStorage, Profile};
    ///
    /// let mut card = Card::create_seeded(&CardOptions::new(Profile::Piv), 1, Box::new(NoStorage)).unwrap();
    /// let before = card.snapshot().unwrap();
    /// let wrong_pin = [0x00, 0x20, 0x00, 0x80, 0x08, b'0', b'0', b'0', b'0', b'0', b'0', b'0', b'0'];
    /// for _ in 0..3 {
    ///     card.transmit(&wrong_pin);
    /// }
    /// let status = [0x00, 0x20, 0x00, 0x80];
    /// assert_eq!(card.transmit(&status), [0x69, 0x83]); // blocked
    /// card.restore(&before).unwrap();
    /// assert_eq!(card.transmit(&status), [0x63, 0xC3]); // three tries again
    /// ```
    ///
    /// # Errors
    /// [`ImageError`] if an applet's state cannot be encoded.
    pub fn snapshot(&self) -> Result<Snapshot, ImageError> {
        Ok(Snapshot::from_image(self.image()?))
    }

    /// Puts the card back to a snapshot's state and writes it to the card's storage; the
    /// card is then as after a power cycle. The snapshot must be of a card of the same
    /// profile. On any error the card is left as it was, in memory and in storage.
    ///
    /// # Errors
    /// [`Error::Image`] for a snapshot that does not decode or is of another profile;
    /// [`Error::Storage`] if the storage refused the image.
    pub fn restore(&mut self, snapshot: &Snapshot) -> Result<(), Error> {
        let body = image::decode(snapshot.image())?;
        if body.profile != self.store.profile {
            return Err(Error::Image(ImageError::Corrupt(format!(
                "the snapshot is of a {} card, this card is {}",
                body.profile, self.store.profile
            ))));
        }
        let same_applets = body.applets.len() == self.slots.len()
            && body
                .applets
                .iter()
                .zip(&self.slots)
                .all(|(r, s)| r.aid == s.aid);
        if !same_applets {
            return Err(Error::Image(ImageError::Corrupt(
                "the snapshot's applets are not this card's".into(),
            )));
        }
        let slots = body
            .applets
            .iter()
            .map(|r| {
                let applet = body.profile.load_applet(&r.aid, &r.state, self.backend)?;
                Slot::new(applet).map_err(Error::InvalidOption)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let records: Vec<_> = body
            .applets
            .iter()
            .map(|r| (r.aid.as_slice(), r.state.as_slice()))
            .collect();
        let serial = core::mem::replace(&mut self.store.serial, body.serial);
        if let Err(e) = self.store.write(&records) {
            self.store.serial = serial;
            return Err(e.into());
        }
        self.slots = slots;
        if self.powered {
            self.power_on();
        } else {
            self.power_off();
        }
        Ok(())
    }
}
