//! Cost of the owner check (issue 17): host time of one `owner::verify` (ed25519, strict) over a grant, and of
//! parsing an owner key, beside the instructions the same calls take on the band's ISA when
//! `scripts/rv32-bench --json target/bench/rv32.json` ran first (as `make bench` does). Writes
//! `target/bench/owner.json` (or `$CARGO_TARGET_DIR/bench/owner.json`).

use bandx_core::owner::{Grant, OwnerKey, verify};
use bandx_core::protocol::UpdateTarget;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signer, SigningKey};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Microseconds per call of `f`: the fastest of 15 batches of ~20 ms (as the budget bench).
fn micros(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed().as_millis() < 20 {
        f();
        calls += 1;
    }
    (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("bench")
}

/// The owner-verify figures of `rv32.json` (written by scripts/rv32-bench), if present.
fn rv32_figures() -> Option<(u64, u64)> {
    let json = std::fs::read_to_string(bench_dir().join("rv32.json")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let at = json.find(&format!("\"{name}\":"))? + name.len() + 3;
        let digits: String = json[at..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((
        field("owner_verify_instructions")?,
        field("owner_key_parse_instructions")?,
    ))
}

fn owner(c: &mut Criterion) {
    let sk = SigningKey::from_bytes(&[7; 32]);
    let key_bytes = sk.verifying_key().to_bytes();
    let key = OwnerKey::from_bytes(&key_bytes).expect("key");
    let grant = Grant {
        target: UpdateTarget::Firmware,
        version: 3,
        total_len: 444_400,
        sha256: [0x5A; 32],
        downgrade: false,
    };
    let signature = sk.sign(&grant.message()).to_bytes();
    verify(&key, &grant, &signature).expect("a valid signature");

    let verify_us = micros(|| {
        black_box(verify(
            black_box(&key),
            black_box(&grant),
            black_box(&signature),
        ))
        .expect("verify");
    });
    let parse_us = micros(|| {
        black_box(OwnerKey::from_bytes(black_box(&key_bytes))).expect("key");
    });
    println!("bandx-core owner check (host, 1 thread; fastest of 15 batches):");
    println!("    owner::verify (ed25519 strict, 57-byte grant) {verify_us:>8.1} us");
    println!("    OwnerKey::from_bytes (point decompression)     {parse_us:>8.1} us");
    let rv32 = rv32_figures();
    match rv32 {
        Some((v, p)) => println!(
            "    on rv32imc: verify {v} instructions = {:.1} ms at 160 MHz; key parse {p} instructions",
            v as f64 / 160e3
        ),
        None => println!(
            "    (rv32imc figures: run scripts/rv32-bench --json target/bench/rv32.json first)"
        ),
    }
    let dir = bench_dir();
    let json = format!(
        "{{\n  \"how\": \"cargo bench -p bandx-core --bench owner: fastest of 15 batches, 1 thread\",\n  \
         \"host_verify_us\": {verify_us:.2},\n  \"host_key_parse_us\": {parse_us:.2},\n  \
         \"rv32_verify_instructions\": {},\n  \"rv32_key_parse_instructions\": {},\n  \
         \"signature_bytes_per_update\": 64\n}}\n",
        rv32.map_or("null".into(), |r| r.0.to_string()),
        rv32.map_or("null".into(), |r| r.1.to_string()),
    );
    let path = dir.join("owner.json");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, json)) {
        Ok(()) => println!("  (JSON: {})", path.display()),
        Err(e) => println!("  (could not write {}: {e})", path.display()),
    }

    c.bench_function("owner::verify (ed25519 strict)", |b| {
        b.iter(|| verify(black_box(&key), black_box(&grant), black_box(&signature)))
    });
    c.bench_function("OwnerKey::from_bytes", |b| {
        b.iter(|| OwnerKey::from_bytes(black_box(&key_bytes)))
    });
}

criterion_group!(benches, owner);
criterion_main!(benches);
