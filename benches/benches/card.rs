//! Layer 2: the card in process. `Card::transmit` of the whole sign command, for each
//! crypto backend, one criterion group:
//!
//! - `PIV`: GENERAL AUTHENTICATE with the RSA-2048 key of slot 9A over a host-padded
//!   256-byte block (`00 87 07 9A`, extended length), after one VERIFY;
//! - `GIDS`: MANAGE SECURITY ENVIRONMENT then PSO: COMPUTE DIGITAL SIGNATURE over the
//!   DigestInfo (`00 2A 9E 9A`), as the Windows minidriver signs;
//!
//! and the bare command round trip (PIV GET VERSION) in `card_roundtrip`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use softcard::crypto::BackendKind;
use softcard::{NoStorage, Profile};
use softcard_benches::{
    GIDS_KEY, RSA2048_LEN, apdu, backend_label, check_signature, digest_info, gids_sign, piv_sign,
    pkcs1_block, provisioned_card,
};

fn sign(c: &mut Criterion) {
    let info = digest_info();
    let piv_command = apdu::piv_sign(&pkcs1_block(&info, RSA2048_LEN));
    let mse = apdu::gids_mse_sign(GIDS_KEY);
    let pso = apdu::gids_sign(&info);
    let mut group = c.benchmark_group("card_sign");
    for backend in BackendKind::available() {
        let label = backend_label(backend);
        let (mut card, public) =
            provisioned_card(Profile::Piv, backend, Box::new(NoStorage)).expect("a PIV card");
        check_signature(&public, &piv_sign(&mut card, &piv_command).expect("sign"))
            .expect("a valid signature");
        group.bench_function(format!("PIV/{label}"), |b| {
            b.iter(|| card.transmit(black_box(&piv_command)))
        });

        let (mut card, public) =
            provisioned_card(Profile::WindowsVsc, backend, Box::new(NoStorage))
                .expect("a GIDS card");
        check_signature(&public, &gids_sign(&mut card, &mse, &pso).expect("sign"))
            .expect("a valid signature");
        group.bench_function(format!("GIDS/{label}"), |b| {
            b.iter(|| {
                black_box(card.transmit(black_box(&mse)));
                card.transmit(black_box(&pso))
            })
        });
    }
    group.finish();

    let (mut card, _) =
        provisioned_card(Profile::Piv, BackendKind::RustCrypto, Box::new(NoStorage))
            .expect("a card");
    let mut group = c.benchmark_group("card_roundtrip");
    group.bench_function("PIV GET VERSION", |b| {
        b.iter(|| card.transmit(black_box(&apdu::PIV_GET_VERSION)))
    });
    group.finish();
}

criterion_group!(benches, sign);
criterion_main!(benches);
