//! The card-driving client: finds the card application (GIDS or PIV), verifies the PIN,
//! creates a key in a container, has the card sign a request and installs the issued
//! certificate, all through a [`Transport`].

use softcard::Secret;
use softcard::crypto::sym::SymAlg;
use softcard::crypto::{CardRng, HashAlg, KeyAlgorithm, PublicKey};

use crate::applet::{APPLETS, Applet};
use crate::piv::ManagementKey;
use crate::transport::{Response, SW_OK, exchange};
use crate::{
    CardSigner, Certificate, EnrollError, KeySpec, Request, RequestFormat, RequestOptions,
    RequestSigner, Transport, parse_certificates, select_for_key,
};

/// The card application a [`CardClient`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Application {
    /// GIDS (the Windows TPM virtual smart card and other minidriver cards): containers
    /// in `mscp/cmapfile`, RSA 1024 to 4096.
    Gids,
    /// PIV (SP 800-73-4): a container is a key slot (`9A`, `9C`, `9D`, `9E`); RSA and
    /// P-256.
    Piv,
}

impl Application {
    /// "GIDS" or "PIV".
    pub const fn name(self) -> &'static str {
        match self {
            Application::Gids => "GIDS",
            Application::Piv => "PIV",
        }
    }
}

/// Which container a new key goes into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerName {
    /// A name made up as Windows does: a random GUID on GIDS; on PIV the slot of the key
    /// spec (`9D` for Exchange, `9A` for Signature).
    Automatic,
    /// This name (GIDS: up to 39 characters; PIV: a slot in hex).
    Named(String),
}

/// A key to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRequest {
    /// The container.
    pub container: ContainerName,
    /// The key's algorithm (GIDS: RSA only).
    pub algorithm: KeyAlgorithm,
    /// Exchange or Signature.
    pub key_spec: KeySpec,
}

impl KeyRequest {
    /// The container this request made, its key just generated (no certificate yet).
    pub(crate) fn created(
        &self,
        name: String,
        public_key: PublicKey,
        key_reference: u8,
    ) -> Container {
        Container {
            name,
            key_spec: self.key_spec,
            algorithm: self.algorithm,
            public_key,
            key_reference,
            has_certificate: false,
        }
    }
}

/// A key container on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// Its name (GUID or given name on GIDS, slot on PIV).
    pub name: String,
    /// Exchange or Signature.
    pub key_spec: KeySpec,
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The key's public half, as read from the card.
    pub public_key: PublicKey,
    /// The card's key reference (GIDS key file 81.., PIV slot).
    pub key_reference: u8,
    /// Whether a certificate is stored with it.
    pub has_certificate: bool,
}

/// A secret that unblocks a PIN.
#[derive(Clone, Copy, Debug)]
pub enum Unblock<'a> {
    /// The PUK (PIV).
    Puk(&'a [u8]),
    /// The administrator key, raw bytes (GIDS), its algorithm told by its length: 24 bytes
    /// 3DES, 16 bytes AES-128, 32 bytes AES-256. An AES-192 key needs
    /// [`Unblock::AdminKeyWith`].
    AdminKey(&'a [u8]),
    /// The administrator key and its algorithm (GIDS): the only way to use an AES-192
    /// key, whose 24 bytes would otherwise be taken for 3DES.
    AdminKeyWith(SymAlg, &'a [u8]),
}

/// A card reached through a [`Transport`], with its application selected.
pub struct CardClient<T> {
    transport: T,
    applet: &'static dyn Applet,
    /// The PIV management key set by [`CardClient::set_management_key`] (wiped on drop).
    management_key: Option<ManagementKey>,
    /// The PIN last verified, kept (zeroized on drop) to verify again before each
    /// signature of a PIV key whose PIN policy is "always" (slot 9C).
    pin: Option<Secret>,
}

impl<T> core::fmt::Debug for CardClient<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CardClient")
            .field("application", &self.applet.application())
            .field("management_key", &self.management_key)
            .finish_non_exhaustive()
    }
}

/// Turns a failed VERIFY-like answer into the typed error.
pub(crate) fn pin_status(
    resp: Response,
    what: &'static str,
    command: &'static str,
) -> Result<(), EnrollError> {
    match resp.sw {
        SW_OK => Ok(()),
        sw if sw & 0xFFF0 == 0x63C0 => Err(EnrollError::WrongPin {
            what,
            tries_left: (sw & 0x0F) as u8,
        }),
        0x6983 => Err(EnrollError::PinBlocked { what }),
        sw => Err(EnrollError::Card { command, sw }),
    }
}

/// As [`pin_status`] for a command that sets a new PIN: 6A80 (and 6700) say the new PIN
/// breaks the card's rules, given in `rules`.
pub(crate) fn new_pin_status(
    resp: Response,
    what: &'static str,
    command: &'static str,
    rules: &'static str,
) -> Result<(), EnrollError> {
    match resp.sw {
        sw @ (0x6A80 | 0x6700) => Err(EnrollError::NewPinRefused {
            what: "PIN",
            sw,
            rules,
        }),
        _ => pin_status(resp, what, command),
    }
}

impl<T: Transport> CardClient<T> {
    /// Selects the card's application: GIDS first, then PIV.
    ///
    /// # Errors
    /// [`EnrollError::NoApplication`] when neither answers, [`EnrollError::Transport`].
    pub fn connect(mut transport: T) -> Result<Self, EnrollError> {
        for applet in APPLETS {
            if exchange(&mut transport, [0, 0xA4, 0x04, 0x00], applet.aid(), true)?.sw == SW_OK {
                return Ok(CardClient {
                    transport,
                    applet,
                    management_key: None,
                    pin: None,
                });
            }
        }
        Err(EnrollError::NoApplication)
    }

    /// The application found.
    pub fn application(&self) -> Application {
        self.applet.application()
    }

    /// The transport, to give the card back.
    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Sets the PIV management key used to create keys and write certificates (the
    /// default key 0102..08 ×3, 3DES, when never set). 24 bytes are 3DES, 16 or 32 AES.
    pub fn set_management_key(&mut self, key: &[u8]) {
        self.management_key = Some(ManagementKey::new(key));
    }

    /// VERIFY of the user PIN. The client keeps a verified PIN (zeroized when dropped or
    /// replaced) to present it again before each signature of a PIV key whose PIN policy is
    /// "always" (slot 9C), as the card asks; a failed VERIFY forgets it.
    ///
    /// # Errors
    /// [`EnrollError::WrongPin`] with the tries left (63Cx), [`EnrollError::PinBlocked`]
    /// (6983), [`EnrollError::Card`] for other status words.
    pub fn verify_pin(&mut self, pin: &[u8]) -> Result<(), EnrollError> {
        let result = self.applet.verify_pin(&mut self.transport, pin);
        self.pin = result.is_ok().then(|| Secret::from_slice(pin));
        result
    }

    /// CHANGE REFERENCE DATA of the user PIN. On GIDS the new PIN is verified afterwards
    /// (the card leaves it so) and `cardcf`'s PIN freshness counter is bumped, as the
    /// minidriver does, so that Windows drops its cached PIN state.
    ///
    /// # Errors
    /// As [`CardClient::verify_pin`] for a wrong old PIN; [`EnrollError::NewPinRefused`]
    /// (6A80) for a new PIN the card's rules refuse.
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<(), EnrollError> {
        let result = self.applet.change_pin(&mut self.transport, old, new);
        // GIDS leaves the new PIN verified; on PIV a kept PIN is replaced by the new one.
        if result.is_ok() && (self.applet.leaves_new_pin_verified() || self.pin.is_some()) {
            self.pin = Some(Secret::from_slice(new));
        }
        result
    }

    /// Sets a new PIN and resets its counter: with the PUK on PIV (RESET RETRY COUNTER),
    /// after administrator-key authentication on GIDS. On GIDS the new PIN is then
    /// verified and `cardcf`'s PIN freshness counter bumped, as the minidriver does (the
    /// card leaves the new PIN verified); on PIV the PIN is not verified afterwards.
    ///
    /// # Errors
    /// [`EnrollError::WrongPin`]/[`EnrollError::PinBlocked`] about the PUK,
    /// [`EnrollError::AdminAuthentication`] for a wrong administrator key (or one of
    /// another algorithm), [`EnrollError::NewPinRefused`] for a new PIN the card's rules
    /// refuse, [`EnrollError::Unsupported`] for the secret of the other application.
    pub fn unblock_pin(&mut self, secret: Unblock<'_>, new: &[u8]) -> Result<(), EnrollError> {
        let result = self.applet.unblock(&mut self.transport, secret, new);
        if result.is_ok() {
            self.pin = self
                .applet
                .leaves_new_pin_verified()
                .then(|| Secret::from_slice(new));
        }
        result
    }

    /// Every container holding a key.
    ///
    /// # Errors
    /// [`EnrollError::Card`], [`EnrollError::Transport`].
    pub fn containers(&mut self) -> Result<Vec<Container>, EnrollError> {
        self.applet.containers(&mut self.transport)
    }

    /// The container named `name` (GIDS names compare exactly, PIV slots ignore case).
    ///
    /// # Errors
    /// [`EnrollError::NoContainer`].
    pub fn container(&mut self, name: &str) -> Result<Container, EnrollError> {
        self.containers()?
            .into_iter()
            .find(|c| c.name == name || c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| EnrollError::NoContainer(name.to_owned()))
    }

    /// Checks, without changing anything on the card, that [`CardClient::create_key`] can
    /// create this key: an algorithm the application has, a valid container name (GIDS:
    /// at most 39 characters; PIV: a slot 9A, 9C, 9D or 9E) not in use, a free container.
    ///
    /// # Errors
    /// [`EnrollError::ContainerExists`], [`EnrollError::Unsupported`] naming the problem.
    pub fn check_key_request(&mut self, request: &KeyRequest) -> Result<(), EnrollError> {
        self.applet.check_key_request(&mut self.transport, request)
    }

    /// Creates a key pair in a new container (the PIN must be verified; PIV also
    /// authenticates with the management key). `rng` makes automatic container names.
    ///
    /// # Errors
    /// [`EnrollError::ContainerExists`], [`EnrollError::Unsupported`] (P-256 on GIDS),
    /// [`EnrollError::Card`] (6982: PIN not verified; 6A84: card full).
    pub fn create_key(
        &mut self,
        request: &KeyRequest,
        rng: &mut dyn CardRng,
    ) -> Result<Container, EnrollError> {
        self.applet.create_key(
            &mut self.transport,
            request,
            rng,
            self.management_key.as_ref(),
        )
    }

    /// A [`RequestSigner`] whose private operation is done by the card (GIDS PSO: COMPUTE
    /// DIGITAL SIGNATURE over a DigestInfo; PIV GENERAL AUTHENTICATE, raw RSA with the
    /// padding built here, or ECDSA). The PIN must be verified. A PIV key whose PIN policy
    /// is "always" (slot 9C: one signature per VERIFY) gets the PIN verified with
    /// [`CardClient::verify_pin`] presented again before each signature, so that a CMC
    /// request (two signatures) can be signed by it.
    pub fn signer<'a>(
        &'a mut self,
        container: &Container,
    ) -> CardSigner<impl FnMut(&[u8]) -> Result<Vec<u8>, EnrollError> + 'a> {
        let operation = self.applet.card_operation(container.algorithm);
        let op = self
            .applet
            .sign_operation(&mut self.transport, container, self.pin.clone());
        CardSigner::new(container.public_key.clone(), operation, op)
    }

    /// Signs `message` hashed with `hash` with the container's key: a PKCS#1 v1.5
    /// signature (RSA) or a DER ECDSA signature, as `openssl dgst -verify` checks them.
    ///
    /// # Errors
    /// As the card's signing command ([`EnrollError::Card`] 6982 without the PIN).
    pub fn sign(
        &mut self,
        container: &Container,
        message: &[u8],
        hash: HashAlg,
    ) -> Result<Vec<u8>, EnrollError> {
        self.signer(container).sign(message, hash)
    }

    /// The seed's enrollment on the card: checks the request options
    /// ([`RequestOptions::check`]) and the key request ([`CardClient::check_key_request`])
    /// before anything is written, creates the key, then builds the request in `format`,
    /// signed by the card. The PIN must be verified.
    ///
    /// # Errors
    /// As [`RequestOptions::check`], [`CardClient::check_key_request`] (the card is then
    /// unchanged), [`CardClient::create_key`] and [`Request::build`].
    pub fn enroll(
        &mut self,
        key: &KeyRequest,
        format: RequestFormat,
        options: &RequestOptions,
        rng: &mut dyn CardRng,
    ) -> Result<(Container, Request), EnrollError> {
        options.check()?;
        self.check_key_request(key)?;
        let container = self.create_key(key, rng)?;
        let request = Request::build(format, options, &mut self.signer(&container))?;
        Ok((container, request))
    }

    /// Installs the certificate for `container`'s key found in a CA's answer (DER, PEM,
    /// PKCS#7 chain). Nothing is written unless it certifies the container's key.
    ///
    /// # Errors
    /// [`EnrollError::NoMatchingCertificate`] for a certificate of another key;
    /// parse errors as [`parse_certificates`]; [`EnrollError::Card`] (6982 without the PIN).
    pub fn install_certificate(
        &mut self,
        container: &Container,
        answer: &[u8],
    ) -> Result<Certificate, EnrollError> {
        let cert = select_for_key(&parse_certificates(answer)?, &container.public_key)?;
        self.applet.write_certificate(
            &mut self.transport,
            container,
            cert.der(),
            self.management_key.as_ref(),
        )?;
        Ok(cert)
    }

    /// The certificate stored with `container`, if any.
    ///
    /// # Errors
    /// [`EnrollError::Card`], [`EnrollError::Malformed`] for a stored object that does
    /// not decode.
    pub fn read_certificate(
        &mut self,
        container: &Container,
    ) -> Result<Option<Certificate>, EnrollError> {
        let der = self
            .applet
            .read_certificate(&mut self.transport, container)?;
        der.map(|d| Certificate::from_der(&d)).transpose()
    }
}
