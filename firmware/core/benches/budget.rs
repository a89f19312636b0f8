//! Budget report for the representative 7-class model: blob bytes, arena bytes, MACs per window (printed),
//! and host time per inference (criterion). Targets: blob <= 10 KB, arena <= 16 KB, <= 200 k MACs.

use bandx_core::blob::{INPUT_LEN, Model};
use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::{CHANNELS, WINDOW_LEN, Window};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const BLOB_BUDGET: usize = 10 * 1024;
const ARENA_BUDGET: usize = 16 * 1024;
const MAC_BUDGET: u32 = 200_000;

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "OVER BUDGET" }
}

fn budget(c: &mut Criterion) {
    let mut buf = vec![0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 1, 1, 1).expect("demo model");
    let model = Model::parse(&buf[..len]).expect("demo model parses");
    let arena_len = model.arena_size();
    println!("bandx-core budget, representative 7-class model:");
    println!(
        "  blob   {len:>7} bytes  (budget {BLOB_BUDGET}) {}",
        verdict(len <= BLOB_BUDGET)
    );
    println!(
        "  arena  {arena_len:>7} bytes  (budget {ARENA_BUDGET}) {}",
        verdict(arena_len <= ARENA_BUDGET)
    );
    println!(
        "  MACs   {:>7} / window (budget {MAC_BUDGET}) {}",
        model.macs(),
        verdict(model.macs() <= MAC_BUDGET)
    );

    let mut arena = vec![0u8; arena_len];
    let mut window: Window = [[0.0; CHANNELS]; WINDOW_LEN];
    for (t, s) in window.iter_mut().enumerate() {
        for (ch, v) in s.iter_mut().enumerate() {
            *v = ((t * 7 + ch * 13) % 17) as f32 * 0.3 - 2.0;
        }
    }
    c.bench_function("infer 7-class window (f32 in)", |b| {
        b.iter(|| model.infer(black_box(&window), &mut arena).expect("infer"))
    });
    let input = [3i16; INPUT_LEN];
    c.bench_function("infer 7-class window (int16 codes in)", |b| {
        b.iter(|| {
            model
                .infer_quantized(black_box(&input), &mut arena)
                .expect("infer")
        })
    });
    c.bench_function("parse + verify blob (SHA-256)", |b| {
        b.iter(|| Model::parse(black_box(&buf[..len])).expect("parse"))
    });
}

criterion_group!(benches, budget);
criterion_main!(benches);
