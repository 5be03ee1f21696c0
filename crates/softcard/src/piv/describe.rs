//! The applet's [`PivDescription`], read from its state.

use super::{
    PivApplet, keys,
    types::{Slot, key_alg_id},
};
use crate::description::{ManagementKey, PinState, PivDescription, PivKey, PivSlot};

pub(super) fn description(applet: &PivApplet) -> PivDescription {
    let s = &applet.state;
    let slots = Slot::all()
        .filter_map(|slot| {
            let certificate = s.objects.contains_key(&slot.cert_tag());
            let key = s.keys.get(&slot).map(|k| {
                let alg = k.key.algorithm();
                PivKey {
                    algorithm: keys::describe_alg(alg).into(),
                    algorithm_id: key_alg_id(alg),
                    origin: format!("{:?}", k.origin),
                    pin_policy: format!("{:?}", k.pin_policy),
                    touch_policy: format!("{:?}", k.touch_policy),
                }
            });
            (key.is_some() || certificate).then_some(PivSlot {
                slot: slot.key_ref(),
                key,
                certificate,
            })
        })
        .collect();
    PivDescription {
        version: {
            let [major, minor, patch] = applet.identity.version();
            format!("{major}.{minor}.{patch}")
        },
        pin: PinState::of(&s.pin),
        puk: PinState::of(&s.puk),
        management_key: ManagementKey {
            algorithm: s.mgmt.key.algorithm().name().into(),
            default: s.mgmt.default,
        },
        slots,
    }
}
