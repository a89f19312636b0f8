//! Budget report for the band's models: blob bytes, arena bytes, MACs per window (printed), host time per
//! window beside the paper's stack (LiteRT) on the same machine, and criterion timings. Targets: blob <= 10 KB,
//! arena <= 16 KB, <= 200 k MACs, <= 10 us per window on the host. The host time is the fastest of 15
//! wall-clock batches; beside it the thread's CPU time per window and the load average, since on a shared
//! 2-core machine the wall-clock figure also counts time spent waiting for a core.
//!
//! Also writes `target/bench/engine.json` (or `$CARGO_TARGET_DIR/bench/engine.json`) for scripts; when
//! `scripts/rv32-bench --json target/bench/rv32.json` ran first (as `make bench` does), its instruction counts
//! on the band's ISA are included under `"rv32"`.

use bandx_core::blob::{INPUT_LEN, Model};
use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::{CHANNELS, WINDOW_LEN, Window};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

const BLOB_BUDGET: usize = 10 * 1024;
const ARENA_BUDGET: usize = 16 * 1024;
const MAC_BUDGET: u32 = 200_000;
/// Host time per window the engine should not exceed (LiteRT's builtin int8 kernels: 9.2-9.5 us).
const HOST_US_BUDGET: f64 = 10.0;

/// The paper's stack on this project's 2-core machines, same input shape (60 x 6, ~153 k MACs), 1 thread,
/// measured on 2026-12-05 (`pip install ai-edge-litert`; see ../shared/STACK.md and issue 20).
const LITERT_MEASURED_ON: &str = "2026-12-05";
const LITERT_BUILTIN_US: f64 = 9.2;
const LITERT_XNNPACK_US: f64 = 4.8;
const LITERT_REFERENCE_US: f64 = 66.0;
/// This engine before the fast kernels (issue 20, same day and machine).
const ENGINE_BEFORE_US: f64 = 97.7;
/// This engine with the step-blocked kernels only, before the paired kernel (same machine, 2026-12-05).
const ENGINE_STEP_BLOCKED_US: f64 = 20.9;

/// The generic model a fresh band (and the virtual band) runs.
const SHIPPED_BLOB: &str = "../../model/pretrained/generic-wisdm18.blob";

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "OVER BUDGET" }
}

/// A deterministic SI window.
fn window() -> Window {
    let mut window: Window = [[0.0; CHANNELS]; WINDOW_LEN];
    for (t, s) in window.iter_mut().enumerate() {
        for (ch, v) in s.iter_mut().enumerate() {
            *v = ((t * 7 + ch * 13) % 17) as f32 * 0.3 - 2.0;
        }
    }
    window
}

/// Microseconds per call of `f`: the fastest of 15 batches of ~20 ms (the minimum is the figure least
/// disturbed by other work on a shared machine; criterion's mean follows below).
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

/// On-CPU nanoseconds of this thread so far (Linux `/proc/thread-self/schedstat`), if readable.
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Microseconds of CPU time per call of `f` over ~0.3 s: unlike the wall-clock figure, time the thread
/// spends waiting for a core on a busy machine does not count (a core shared with another busy thread
/// still slows it). `None` where the kernel does not say.
fn cpu_micros(mut f: impl FnMut()) -> Option<f64> {
    let (start, wall) = (cpu_ns()?, Instant::now());
    let mut calls = 0u64;
    while wall.elapsed().as_millis() < 300 {
        for _ in 0..100 {
            f();
        }
        calls += 100;
    }
    Some((cpu_ns()? - start) as f64 / 1e3 / calls as f64)
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("bench")
}

struct Figures {
    name: &'static str,
    blob: usize,
    arena: usize,
    macs: u32,
    infer_us: f64,
    infer_cpu_us: Option<f64>,
    infer_quantized_us: f64,
    parse_us: f64,
}

fn measure(name: &'static str, blob: &[u8]) -> Figures {
    let model = Model::parse(blob).expect("blob parses");
    let mut arena = vec![0u8; model.arena_size()];
    let window = window();
    let input = model.self_test_vector().input();
    Figures {
        name,
        blob: blob.len(),
        arena: model.arena_size(),
        macs: model.macs(),
        infer_us: micros(|| {
            black_box(model.infer(black_box(&window), &mut arena).expect("infer"));
        }),
        infer_cpu_us: cpu_micros(|| {
            black_box(model.infer(black_box(&window), &mut arena).expect("infer"));
        }),
        infer_quantized_us: micros(|| {
            black_box(
                model
                    .infer_quantized(black_box(&input), &mut arena)
                    .expect("infer"),
            );
        }),
        parse_us: micros(|| {
            black_box(Model::parse(black_box(blob)).expect("parse"));
        }),
    }
}

/// The 1-minute load average (`/proc/loadavg`), to read the figures beside: this machine is shared.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

fn report(figures: &[Figures]) {
    println!("bandx-core budget (host, 1 thread; fastest of 15 batches):");
    for f in figures {
        println!("  {}:", f.name);
        println!(
            "    blob   {:>7} bytes  (budget {BLOB_BUDGET}) {}",
            f.blob,
            verdict(f.blob <= BLOB_BUDGET)
        );
        println!(
            "    arena  {:>7} bytes  (budget {ARENA_BUDGET}) {}",
            f.arena,
            verdict(f.arena <= ARENA_BUDGET)
        );
        println!(
            "    MACs   {:>7} / window (budget {MAC_BUDGET}) {}",
            f.macs,
            verdict(f.macs <= MAC_BUDGET)
        );
        println!(
            "    infer  {:>7.2} us / window, SI window in (budget {HOST_US_BUDGET} us) {}; int16 codes in: {:.2} us",
            f.infer_us,
            verdict(f.infer_us <= HOST_US_BUDGET),
            f.infer_quantized_us
        );
        if let Some(cpu) = f.infer_cpu_us {
            println!(
                "           CPU time {cpu:.2} us / window (load average {})",
                load_average()
            );
        }
        println!(
            "           {:.1}x LiteRT builtin ({LITERT_BUILTIN_US} us), {:.1}x LiteRT XNNPACK ({LITERT_XNNPACK_US} us), \
             {:.1}x LiteRT reference ({LITERT_REFERENCE_US} us): the time ratio, measured {LITERT_MEASURED_ON}; \
             this engine before: {ENGINE_BEFORE_US} us, with the step-blocked kernels only: {ENGINE_STEP_BLOCKED_US} us",
            f.infer_us / LITERT_BUILTIN_US,
            f.infer_us / LITERT_XNNPACK_US,
            f.infer_us / LITERT_REFERENCE_US,
        );
        println!("    parse + SHA-256 {:>7.2} us", f.parse_us);
    }
}

fn write_json(figures: &[Figures]) {
    let dir = bench_dir();
    let rv32 = std::fs::read_to_string(dir.join("rv32.json"))
        .ok()
        .filter(|s| s.trim_start().starts_with('{'));
    let models: Vec<String> = figures
        .iter()
        .map(|f| {
            format!(
                "    \"{}\": {{\"blob_bytes\": {}, \"arena_bytes\": {}, \"macs\": {}, \"host_infer_us\": {:.3}, \
                 \"host_infer_cpu_us\": {}, \"host_infer_quantized_us\": {:.3}, \"host_parse_sha256_us\": {:.3}}}",
                f.name,
                f.blob,
                f.arena,
                f.macs,
                f.infer_us,
                f.infer_cpu_us.map_or("null".to_string(), |v| format!("{v:.3}")),
                f.infer_quantized_us,
                f.parse_us
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"host\": {{\n    \"how\": \"cargo bench -p bandx-core --bench budget: fastest of 15 batches, 1 thread; \
         host_infer_cpu_us: on-CPU time per window over 0.3 s (schedstat)\",\n    \"load_average\": \"{}\",\n    \
         \"budget_us\": {HOST_US_BUDGET},\n    \"anchors_us\": {{\"measured_on\": \"{LITERT_MEASURED_ON}\", \
         \"litert_builtin\": {LITERT_BUILTIN_US}, \"litert_xnnpack\": {LITERT_XNNPACK_US}, \
         \"litert_reference\": {LITERT_REFERENCE_US}, \"bandx_engine_before\": {ENGINE_BEFORE_US}, \
         \"bandx_engine_step_blocked\": {ENGINE_STEP_BLOCKED_US}}}\n  }},\n  \
         \"models\": {{\n{}\n  }},\n  \"rv32\": {}\n}}\n",
        load_average(),
        models.join(",\n"),
        rv32.as_deref().map_or("null", str::trim_end),
    );
    let path = dir.join("engine.json");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, json)) {
        Ok(()) => println!("  (JSON: {})", path.display()),
        Err(e) => println!("  (could not write {}: {e})", path.display()),
    }
}

fn budget(c: &mut Criterion) {
    let mut buf = vec![0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 1, 1, 1).expect("demo model");
    let demo = &buf[..len];
    let shipped_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SHIPPED_BLOB);
    let shipped = std::fs::read(&shipped_path).expect("the shipped generic blob");

    let figures = [
        measure("representative 7-class model (demo)", demo),
        measure("shipped generic-wisdm18", &shipped),
    ];
    report(&figures);
    write_json(&figures);

    let model = Model::parse(demo).expect("demo model parses");
    let mut arena = vec![0u8; model.arena_size()];
    let window = window();
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
    let generic = Model::parse(&shipped).expect("shipped blob parses");
    let mut arena = vec![0u8; generic.arena_size()];
    c.bench_function("infer shipped 18-class window (f32 in)", |b| {
        b.iter(|| {
            generic
                .infer(black_box(&window), &mut arena)
                .expect("infer")
        })
    });
    c.bench_function("parse + verify blob (SHA-256)", |b| {
        b.iter(|| Model::parse(black_box(demo)).expect("parse"))
    });
}

criterion_group!(benches, budget);
criterion_main!(benches);
