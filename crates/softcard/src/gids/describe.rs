//! The applet's [`GidsDescription`], read from its state.

use super::{md, state::State};
use crate::description::{AdminKeyDescription, Container, GidsDescription, GidsKey, PinState};

pub(super) fn description(s: &State) -> GidsDescription {
    let dos = |ef: u16, tag: u16| s.efs.get(&ef).and_then(|e| e.dos.get(&u32::from(tag)));
    let containers = dos(md::EVERYONE_READ_USER_WRITE_EF, md::CMAPFILE_DO)
        .map(|cmap| {
            md::parse_cmapfile(cmap)
                .into_iter()
                .enumerate()
                .filter(|(_, c)| c.is_valid())
                .map(|(index, c)| Container {
                    index,
                    default: c.flags & md::CONTAINER_DEFAULT != 0,
                    name: c.name,
                    signature_bits: c.sig_key_bits,
                    key_exchange_bits: c.kx_key_bits,
                })
                .collect()
        })
        .unwrap_or_default();
    let certificates = dos(md::USER_CREATE_DELETE_EF, md::MASTER_FILE_DO).map(|master| {
        md::parse_master_file(master)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                e.directory == "mscp" && (e.name.starts_with("ksc") || e.name.starts_with("kxc"))
            })
            .map(|e| e.name)
            .collect()
    });
    GidsDescription {
        operational: s.operational,
        pin: s.pin.as_ref().map(PinState::of),
        admin_key: s.admin.as_ref().map(|key| {
            let alg = key.algorithm();
            AdminKeyDescription {
                algorithm: if alg.is_aes() { "AES" } else { "3DES" }.into(),
                bits: alg.key_len() * 8,
            }
        }),
        keys: s
            .keys
            .iter()
            .map(|(kid, file)| GidsKey {
                reference: *kid,
                algorithm: file
                    .key
                    .as_ref()
                    .map(|k| format!("RSA-{}", k.algorithm().bits())),
            })
            .collect(),
        containers,
        certificates,
    }
}
