//! A typed description of a card and its applets (no secrets): what [`Card::describe`]
//! renders as text and `softcard info --json` prints as data.
//!
//! [`Card::describe`]: crate::Card::describe

use serde::Serialize;

/// The card: its identity and each applet's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardDescription {
    /// The profile's name (`piv`, `windows-vsc`...).
    pub profile: String,
    /// The card's serial number.
    pub serial: u32,
    /// The ATR, upper-case hex.
    pub atr: String,
    /// The crypto backend the keys are loaded into.
    pub backend: String,
    /// The applets, in selection order.
    pub applets: Vec<AppletDescription>,
}

/// One applet: its name, AID and state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppletDescription {
    /// The applet's name (`piv`, `gids`...).
    pub name: String,
    /// Its AID, upper-case hex.
    pub aid: String,
    /// Its state.
    pub state: AppletState,
}

/// An applet's state, by kind (JSON: an object with `"kind": "piv" | "gids" | "other"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AppletState {
    /// A PIV application.
    Piv(PivDescription),
    /// A GIDS application.
    Gids(GidsDescription),
    /// Another applet: free-form lines.
    Other {
        /// Its description lines.
        lines: Vec<String>,
    },
}

/// A PIN's (or PUK's) retry counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PinState {
    /// Tries left before it blocks.
    pub tries_left: u8,
    /// Tries it allows after a success (the retry limit).
    pub limit: u8,
    /// Whether it is blocked (no tries left).
    pub blocked: bool,
}

impl PinState {
    /// The state of `pin`.
    pub fn of(pin: &crate::Pin) -> Self {
        PinState {
            tries_left: pin.tries_left(),
            limit: pin.policy().max_tries,
            blocked: pin.is_blocked(),
        }
    }
}

/// A PIV application's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PivDescription {
    /// The firmware version it reports (`5.4.3`).
    pub version: String,
    /// The PIN (reference 80).
    pub pin: PinState,
    /// The PUK (reference 81).
    pub puk: PinState,
    /// The card management key (9B).
    pub management_key: ManagementKey,
    /// The slots holding a key or a certificate, in slot order.
    pub slots: Vec<PivSlot>,
}

/// The PIV card management key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManagementKey {
    /// Its algorithm (`3DES`, `AES-128`...).
    pub algorithm: String,
    /// Whether it is the well-known default key.
    pub default: bool,
}

/// A PIV slot holding a key, a certificate or both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PivSlot {
    /// The key reference (9A, 9C...).
    pub slot: u8,
    /// The key, if any.
    pub key: Option<PivKey>,
    /// Whether the slot's certificate object is present.
    pub certificate: bool,
}

/// A key in a PIV slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PivKey {
    /// The algorithm (`RSA-2048`, `ECC P-256`...).
    pub algorithm: String,
    /// The PIV algorithm identifier (07, 11...).
    pub algorithm_id: u8,
    /// `Generated` or `Imported`.
    pub origin: String,
    /// When it needs the PIN (`Never`, `Once`, `Always`...).
    pub pin_policy: String,
    /// When it needs a touch (`Never`, `Always`, `Cached`).
    pub touch_policy: String,
}

/// A GIDS application's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GidsDescription {
    /// Whether the application left its initialization state.
    pub operational: bool,
    /// The user PIN, if set.
    pub pin: Option<PinState>,
    /// The administrator key, if set.
    pub admin_key: Option<AdminKeyDescription>,
    /// The key files, by key reference.
    pub keys: Vec<GidsKey>,
    /// The valid containers of the minidriver's container map.
    pub containers: Vec<Container>,
    /// The certificate files of the minidriver file system (`ksc00`, `kxc01`...); `None`
    /// without a master file.
    pub certificates: Option<Vec<String>>,
}

/// The GIDS administrator key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdminKeyDescription {
    /// Its algorithm (`3DES`, `AES`).
    pub algorithm: String,
    /// Its length in bits.
    pub bits: usize,
}

/// A GIDS key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GidsKey {
    /// The key reference (81...).
    pub reference: u8,
    /// The key's algorithm (`RSA-2048`...); `None` for an empty key file.
    pub algorithm: Option<String>,
}

/// A minidriver container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Its index in the container map.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// The signature key's size in bits (0: none).
    pub signature_bits: u16,
    /// The key exchange key's size in bits (0: none).
    pub key_exchange_bits: u16,
    /// Whether it is the default container.
    pub default: bool,
}

impl CardDescription {
    /// The first PIV application's state.
    pub fn piv(&self) -> Option<&PivDescription> {
        self.applets.iter().find_map(|a| match &a.state {
            AppletState::Piv(p) => Some(p),
            _ => None,
        })
    }

    /// The first GIDS application's state.
    pub fn gids(&self) -> Option<&GidsDescription> {
        self.applets.iter().find_map(|a| match &a.state {
            AppletState::Gids(g) => Some(g),
            _ => None,
        })
    }

    /// The description as text lines, as `softcard info` prints it.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("profile: {}", self.profile),
            format!("serial: {}", self.serial),
            format!("atr: {}", self.atr),
            format!("backend: {}", self.backend),
        ];
        for a in &self.applets {
            out.push(format!("applet {} ({})", a.name, a.aid));
            out.extend(a.state.lines().into_iter().map(|l| format!("  {l}")));
        }
        out
    }
}

impl AppletState {
    /// The state as text lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            AppletState::Piv(p) => p.lines(),
            AppletState::Gids(g) => g.lines(),
            AppletState::Other { lines } => lines.clone(),
        }
    }
}

impl PivDescription {
    /// The slot with key reference `slot`, if it holds a key or a certificate.
    pub fn slot(&self, slot: u8) -> Option<&PivSlot> {
        self.slots.iter().find(|s| s.slot == slot)
    }

    /// The algorithm of the key in `slot` (`RSA-2048`...), if there is one.
    pub fn key_algorithm(&self, slot: u8) -> Option<&str> {
        self.slot(slot)?.key.as_ref().map(|k| k.algorithm.as_str())
    }

    /// The state as text lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("version: {}", self.version),
            format!("PIN tries left: {}/{}", self.pin.tries_left, self.pin.limit),
            format!("PUK tries left: {}/{}", self.puk.tries_left, self.puk.limit),
            format!(
                "management key: {}{}",
                self.management_key.algorithm,
                if self.management_key.default {
                    " (default)"
                } else {
                    ""
                }
            ),
        ];
        for s in &self.slots {
            let cert = if s.certificate { "present" } else { "absent" };
            out.push(match &s.key {
                Some(k) => format!(
                    "slot {:02X}: {} (id {:02X}), {}, PIN {}, touch {}, certificate {cert}",
                    s.slot, k.algorithm, k.algorithm_id, k.origin, k.pin_policy, k.touch_policy
                ),
                None => format!("slot {:02X}: no key, certificate {cert}", s.slot),
            });
        }
        out
    }
}

impl GidsDescription {
    /// The algorithm of the key with reference `reference` (`RSA-2048`...), if its key file
    /// holds one.
    pub fn key_algorithm(&self, reference: u8) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.reference == reference)?
            .algorithm
            .as_deref()
    }

    /// The state as text lines.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "state: {}",
            if self.operational {
                "operational"
            } else {
                "not initialized"
            }
        )];
        out.push(match &self.pin {
            Some(p) if p.blocked => "PIN: blocked".into(),
            Some(p) => format!("PIN: {} of {} tries left", p.tries_left, p.limit),
            None => "PIN: not set".into(),
        });
        if let Some(a) = &self.admin_key {
            out.push(format!("administrator key: {}-{}", a.algorithm, a.bits));
        }
        for k in &self.keys {
            out.push(format!(
                "key {:02X}: {}",
                k.reference,
                k.algorithm.as_deref().unwrap_or("empty")
            ));
        }
        for c in &self.containers {
            out.push(format!(
                "container {} \"{}\": signature {} bits, key exchange {} bits{}",
                c.index,
                c.name,
                c.signature_bits,
                c.key_exchange_bits,
                if c.default { ", default" } else { "" }
            ));
        }
        if let Some(certs) = &self.certificates {
            out.push(format!(
                "certificates: {}",
                if certs.is_empty() {
                    "none".into()
                } else {
                    certs.join(", ")
                }
            ));
        }
        out
    }
}
