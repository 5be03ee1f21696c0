//! Layer 3: softcard-pcsc, the in-process API shaped like the `pcsc` crate.
//! `Context::establish`, `connect`, then `Card::transmit` of the sign commands (as in the
//! `card` bench) and of the bare PIV GET VERSION round trip.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use softcard::crypto::BackendKind;
use softcard::{NoStorage, Profile};
use softcard_benches::{
    GIDS_KEY, RSA2048_LEN, Transmit, apdu, backend_label, check_signature, digest_info, gids_sign,
    login_gids, login_piv, piv_sign, pkcs1_block, provisioned_card,
};
use softcard_pcsc::{Context, MAX_BUFFER_SIZE_EXTENDED, Protocols, Registry, Scope, ShareMode};

/// A connected softcard-pcsc card with its receive buffer.
struct Connected {
    card: softcard_pcsc::Card,
    buffer: Vec<u8>,
}

impl Transmit for Connected {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
        self.card
            .transmit(apdu, &mut self.buffer)
            .map(<[u8]>::to_vec)
            .map_err(|e| e.to_string())
    }
}

impl Connected {
    /// Transmits without copying the response: the hot path.
    fn send(&mut self, apdu: &[u8]) -> usize {
        self.card
            .transmit(apdu, &mut self.buffer)
            .expect("SCardTransmit")
            .len()
    }
}

fn connect(
    ctx: &Context,
    profile: Profile,
    backend: BackendKind,
) -> (Connected, softcard_benches::RsaPublic) {
    let (card, public) = provisioned_card(profile, backend, Box::new(NoStorage)).expect("a card");
    let reader = format!("softcard bench {} {}", profile.name(), backend.name());
    Registry::global()
        .insert_card(&reader, card)
        .expect("inserting the card");
    let name = std::ffi::CString::new(reader).expect("a reader name");
    let card = ctx
        .connect(&name, ShareMode::Shared, Protocols::ANY)
        .expect("SCardConnect");
    let mut connected = Connected {
        card,
        buffer: vec![0; MAX_BUFFER_SIZE_EXTENDED],
    };
    match profile {
        Profile::Piv => login_piv(&mut connected),
        Profile::WindowsVsc => login_gids(&mut connected),
        Profile::Yubikey | Profile::Yubikey54 => {
            unreachable!("provisioned_card makes no yubikey card")
        }
    }
    .expect("logged in");
    (connected, public)
}

fn sign(c: &mut Criterion) {
    let ctx = Context::establish(Scope::User).expect("SCardEstablishContext");
    let info = digest_info();
    let piv_command = apdu::piv_sign(&pkcs1_block(&info, RSA2048_LEN));
    let mse = apdu::gids_mse_sign(GIDS_KEY);
    let pso = apdu::gids_sign(&info);
    let mut group = c.benchmark_group("softcard_pcsc_sign");
    for backend in BackendKind::available() {
        let label = backend_label(backend);
        let (mut card, public) = connect(&ctx, Profile::Piv, backend);
        check_signature(&public, &piv_sign(&mut card, &piv_command).expect("sign")).expect("valid");
        group.bench_function(format!("PIV/{label}"), |b| {
            b.iter(|| card.send(black_box(&piv_command)))
        });

        let (mut card, public) = connect(&ctx, Profile::WindowsVsc, backend);
        check_signature(&public, &gids_sign(&mut card, &mse, &pso).expect("sign")).expect("valid");
        group.bench_function(format!("GIDS/{label}"), |b| {
            b.iter(|| {
                card.send(black_box(&mse));
                card.send(black_box(&pso))
            })
        });
    }
    group.finish();

    let (mut card, _) = connect(&ctx, Profile::Piv, BackendKind::RustCrypto);
    let mut group = c.benchmark_group("softcard_pcsc_roundtrip");
    group.bench_function("PIV GET VERSION", |b| {
        b.iter(|| card.send(black_box(&apdu::PIV_GET_VERSION)))
    });
    group.finish();
}

/// What recording a trace costs: the GET VERSION round trip on a private registry, without
/// a tap and with a recorder writing every line (to a sink, so the disk is not measured).
fn trace(c: &mut Criterion) {
    use softcard_pcsc::trace::{Recorder, Secrets, Tap};
    let mut group = c.benchmark_group("softcard_pcsc_trace");
    for recorded in [false, true] {
        let registry = Registry::new();
        let (card, _) =
            provisioned_card(Profile::Piv, BackendKind::RustCrypto, Box::new(NoStorage))
                .expect("a card");
        registry.insert_card("R", card).expect("inserting the card");
        if recorded {
            let recorder = Recorder::new(std::io::sink(), Secrets::Redacted).expect("a recorder");
            registry.set_tap(Some(Tap::Record(std::sync::Arc::new(recorder))));
        }
        let ctx = registry
            .establish(Scope::User)
            .expect("SCardEstablishContext");
        let mut card = Connected {
            card: ctx
                .connect(c"R", ShareMode::Shared, Protocols::ANY)
                .expect("SCardConnect"),
            buffer: vec![0; MAX_BUFFER_SIZE_EXTENDED],
        };
        let label = if recorded { "recorded" } else { "untraced" };
        group.bench_function(format!("PIV GET VERSION {label}"), |b| {
            b.iter(|| card.send(black_box(&apdu::PIV_GET_VERSION)))
        });
    }
    group.finish();
}

criterion_group!(benches, sign, trace);
criterion_main!(benches);
