//! What the client asks of a card application, once: each applet (GIDS, PIV) implements
//! [`Applet`], and [`CardClient`](crate::CardClient) holds the one the card answered to.

use softcard::Secret;
use softcard::crypto::sym::SymAlg;
use softcard::crypto::{CardRng, KeyAlgorithm};

use crate::client::{Application, Container, KeyRequest, Unblock};
use crate::piv::ManagementKey;
use crate::{CardOperation, EnrollError, Transport};

/// The private operation of a container's key: input as [`CardOperation`] says, output
/// as the card answers it.
pub(crate) type SignOperation<'a> = Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, EnrollError> + 'a>;

/// A card application as an enrollment client drives it. Every method says the commands
/// it sends in the applet's module.
pub(crate) trait Applet: Sync {
    /// Which application this is.
    fn application(&self) -> Application;

    /// The AID SELECT is sent (without version bytes, so that any version answers).
    fn aid(&self) -> &'static [u8];

    /// VERIFY of the user PIN.
    fn verify_pin(&self, t: &mut dyn Transport, pin: &[u8]) -> Result<(), EnrollError>;

    /// CHANGE REFERENCE DATA of the user PIN.
    fn change_pin(&self, t: &mut dyn Transport, old: &[u8], new: &[u8]) -> Result<(), EnrollError>;

    /// Sets a new PIN with the applet's unblocking secret; the other applet's secret is
    /// [`EnrollError::Unsupported`].
    fn unblock(
        &self,
        t: &mut dyn Transport,
        secret: Unblock<'_>,
        new: &[u8],
    ) -> Result<(), EnrollError>;

    /// Whether the card leaves a new PIN (changed or unblocked) verified.
    fn leaves_new_pin_verified(&self) -> bool;

    /// Every container holding a key.
    fn containers(&self, t: &mut dyn Transport) -> Result<Vec<Container>, EnrollError>;

    /// What [`Applet::create_key`] checks, without writing anything.
    fn check_key_request(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
    ) -> Result<(), EnrollError>;

    /// Creates a key pair in a new container.
    fn create_key(
        &self,
        t: &mut dyn Transport,
        request: &KeyRequest,
        rng: &mut dyn CardRng,
        management_key: Option<&ManagementKey>,
    ) -> Result<Container, EnrollError>;

    /// What the signing command takes for an RSA key.
    fn rsa_operation(&self) -> CardOperation;

    /// What the signing command takes for a key of `algorithm`: a digest for ECDSA, as
    /// [`Applet::rsa_operation`] says for RSA.
    fn card_operation(&self, algorithm: KeyAlgorithm) -> CardOperation {
        if algorithm.is_ec() {
            CardOperation::Ecdsa
        } else {
            self.rsa_operation()
        }
    }

    /// The private operation of `container`'s key. `pin` is the PIN last verified, for a
    /// key that asks it before every signature.
    fn sign_operation<'a>(
        &self,
        t: &'a mut dyn Transport,
        container: &Container,
        pin: Option<Secret>,
    ) -> SignOperation<'a>;

    /// Stores the certificate of `container`.
    fn write_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
        der: &[u8],
        management_key: Option<&ManagementKey>,
    ) -> Result<(), EnrollError>;

    /// The certificate stored with `container`, if any.
    fn read_certificate(
        &self,
        t: &mut dyn Transport,
        container: &Container,
    ) -> Result<Option<Vec<u8>>, EnrollError>;
}

/// The applets a client looks for, in the order it selects them.
pub(crate) const APPLETS: [&dyn Applet; 2] = [&crate::gids::Gids, &crate::piv::Piv];

/// The algorithm of an administrator or management key told by its length alone: 24
/// bytes 3DES, 16 AES-128, 32 AES-256 (an AES-192 key, 24 bytes too, is named by the
/// caller or announced by the card).
pub(crate) fn sym_alg_by_length(len: usize) -> Option<SymAlg> {
    SymAlg::with_key_len(false, len).or_else(|| SymAlg::with_key_len(true, len))
}
