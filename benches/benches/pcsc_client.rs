//! Layers 4 and 5: a client of the real `pcsc` crate, measuring whatever
//! `libpcsclite.so.1` it is loaded with:
//!
//! - through Debian's pcscd with vsmartcard's vpcd driver, the cards served by
//!   `softcard serve` (label `pcscd+vpcd`);
//! - under `softcard exec`, where softcard's daemonless drop-in library takes the place of
//!   libpcsclite and forwards each call to the exec process, which hosts the cards, over a
//!   Unix socket (label `softcard exec (host)`);
//! - with the drop-in on `LD_LIBRARY_PATH` by hand and `SOFTCARD_IMAGES` naming the
//!   images, no host: the cards are served in the client's own process (label
//!   `drop-in, in process`).
//!
//! `SOFTCARD_BENCH_STACK` gives the label used in the benchmark ids (default `pcsc`).
//! Every reader is probed: a PIV card (SELECT PIV answers 9000) is measured with GENERAL
//! AUTHENTICATE and GET VERSION, a GIDS card with MSE + PSO:CDS. The cards must have been
//! provisioned by `softcard-bench-card` (an RSA-2048 key in PIV slot 9A, GIDS key 81).
//! Without a PC/SC service or readers, the benchmarks are skipped with a note.

use std::ffi::CString;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pcsc::{Context, MAX_BUFFER_SIZE_EXTENDED, Protocols, Scope, ShareMode};
use softcard_benches::{
    GIDS_KEY, RSA2048_LEN, Transmit, apdu, digest_info, exchange, gids_sign, login_gids, login_piv,
    piv_sign, pkcs1_block,
};

/// A connected `pcsc` card with its receive buffer.
struct Connected {
    card: pcsc::Card,
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
    fn send(&mut self, apdu: &[u8]) -> usize {
        self.card
            .transmit(apdu, &mut self.buffer)
            .expect("SCardTransmit")
            .len()
    }
}

enum Kind {
    Piv,
    Gids,
}

/// Readers with a card, waiting up to `SOFTCARD_BENCH_WAIT` seconds (default 10) for one.
fn readers(ctx: &Context) -> Vec<CString> {
    let wait = std::env::var("SOFTCARD_BENCH_WAIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        let names = ctx.list_readers_owned().unwrap_or_default();
        let with_card: Vec<CString> = names
            .into_iter()
            .filter(|r| ctx.connect(r, ShareMode::Shared, Protocols::ANY).is_ok())
            .collect();
        if !with_card.is_empty() || Instant::now() >= deadline {
            return with_card;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn probe(ctx: &Context, reader: &CString) -> Option<(Kind, Connected)> {
    let card = ctx
        .connect(reader, ShareMode::Shared, Protocols::ANY)
        .ok()?;
    let mut c = Connected {
        card,
        buffer: vec![0; MAX_BUFFER_SIZE_EXTENDED],
    };
    if exchange(&mut c, &apdu::select(softcard::piv::AID), "SELECT PIV").is_ok() {
        login_piv(&mut c).ok()?;
        return Some((Kind::Piv, c));
    }
    if login_gids(&mut c).is_ok() {
        return Some((Kind::Gids, c));
    }
    None
}

fn client(c: &mut Criterion) {
    let label = std::env::var("SOFTCARD_BENCH_STACK").unwrap_or_else(|_| "pcsc".to_owned());
    let ctx = match Context::establish(Scope::User) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("note: no PC/SC service ({e}): the {label} benchmarks are skipped");
            return;
        }
    };
    let info = digest_info();
    let piv_command = apdu::piv_sign(&pkcs1_block(&info, RSA2048_LEN));
    let mse = apdu::gids_mse_sign(GIDS_KEY);
    let pso = apdu::gids_sign(&info);
    let mut cards: Vec<(Kind, Connected)> = readers(&ctx)
        .iter()
        .filter_map(|r| probe(&ctx, r))
        .collect();
    if cards.is_empty() {
        eprintln!("note: no provisioned card found: the {label} benchmarks are skipped");
        return;
    }
    let mut group = c.benchmark_group("pcsc_sign");
    for (kind, card) in &mut cards {
        match kind {
            Kind::Piv => {
                let sig = piv_sign(card, &piv_command).expect("a PIV signature");
                assert_eq!(sig.len(), RSA2048_LEN);
                group.bench_function(format!("{label}/PIV"), |b| {
                    b.iter(|| card.send(black_box(&piv_command)))
                });
            }
            Kind::Gids => {
                let sig = gids_sign(card, &mse, &pso).expect("a GIDS signature");
                assert_eq!(sig.len(), RSA2048_LEN);
                group.bench_function(format!("{label}/GIDS"), |b| {
                    b.iter(|| {
                        card.send(black_box(&mse));
                        card.send(black_box(&pso))
                    })
                });
            }
        }
    }
    group.finish();
    if let Some((_, card)) = cards.iter_mut().find(|(k, _)| matches!(k, Kind::Piv)) {
        let mut group = c.benchmark_group("pcsc_roundtrip");
        group.bench_function(format!("{label}/PIV GET VERSION"), |b| {
            b.iter(|| card.send(black_box(&apdu::PIV_GET_VERSION)))
        });
        group.finish();
    }
}

criterion_group!(benches, client);
criterion_main!(benches);
