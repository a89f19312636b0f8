//! Instruction counts of bandx-core on rv32imc (the ESP32-C3's ISA), measured inside
//! `qemu-system-riscv32 -machine virt -bios none -icount shift=0` (run by `scripts/rv32-bench`).
//!
//! For each shipped blob (`model/pretrained/*.blob`, compiled in) it reads `minstret` around what the band
//! does: `Model::parse` (every field checked + SHA-256 of the blob, at boot and after an update), the
//! blob's self-test (one inference compared with the stored logits; a mismatch fails the run), and
//! `infer` on SI windows (input normalization in soft-float f32, the int8 layers, the softmax) and
//! `infer_quantized` (the int8 layers and softmax only), then one call of a few primitives (`op` lines), and the
//! owner check of every update (`owner` lines: `owner::verify` of a signed grant, `OwnerKey::from_bytes`, and
//! `OwnerRecord::load` of a record holding one owner, as at boot).
//! It prints `key value` lines on the virt UART and exits through the virt test device (0x5555 = success).
//!
//! Bare metal glue only: the start code, the counter, the UART and the exit device need `unsafe` here;
//! bandx-core itself has none.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};
use core::fmt::Write;
use core::hint::black_box;

use bandx_core::blob::Model;
use bandx_core::{CHANNELS, WINDOW_LEN, Window};

/// The blobs the band ships with: the generic model a fresh (virtual) band runs and a 7-class personal one.
const BLOBS: [(&str, &[u8]); 2] = [
    (
        "generic-wisdm18",
        include_bytes!("../../../model/pretrained/generic-wisdm18.blob"),
    ),
    (
        "wearer-1650-band7",
        include_bytes!("../../../model/pretrained/wearer-1650-band7.blob"),
    ),
];

/// The band's inference arena (`bandx_core::band::ARENA_CAPACITY`).
const ARENA: usize = 16 * 1024;

global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    ".option push",
    ".option norelax",
    "la gp, __global_pointer$",
    ".option pop",
    "la sp, _stack_top",
    "la t0, _sbss",
    "la t1, _ebss",
    "1: bgeu t0, t1, 2f",
    "sw zero, 0(t0)",
    "addi t0, t0, 4",
    "j 1b",
    "2: call main",
    "3: j 3b",
);

/// Instructions retired so far (machine mode: `minstreth:minstret`, read consistently).
fn instret() -> u64 {
    loop {
        let (hi, lo, hi2): (u32, u32, u32);
        // SAFETY: reading the machine instruction counter CSRs has no side effect.
        unsafe {
            asm!(
                "csrr {0}, minstreth",
                "csrr {1}, minstret",
                "csrr {2}, minstreth",
                out(reg) hi,
                out(reg) lo,
                out(reg) hi2,
                options(nomem, nostack),
            );
        }
        if hi == hi2 {
            return (hi as u64) << 32 | lo as u64;
        }
    }
}

/// The virt machine's 16550 UART transmit register (qemu needs no setup).
struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: 0x1000_0000 is the virt machine's UART data register.
            unsafe { core::ptr::write_volatile(0x1000_0000 as *mut u8, b) };
        }
        Ok(())
    }
}

/// Ends qemu through the virt machine's test device: 0x5555 passes, `code << 16 | 0x3333` fails.
fn exit(code: u32) -> ! {
    let value = if code == 0 {
        0x5555
    } else {
        code << 16 | 0x3333
    };
    // SAFETY: 0x10_0000 is the virt machine's sifive_test device.
    unsafe { core::ptr::write_volatile(0x10_0000 as *mut u32, value) };
    loop {
        // SAFETY: `wfi` only waits for an interrupt (qemu has exited by now).
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let _ = writeln!(Uart, "panic {info}");
    exit(1)
}

/// Instructions `f` retires, without the cost of reading the counter.
fn count<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let empty = {
        let a = instret();
        instret() - a
    };
    let a = instret();
    let r = black_box(f());
    let b = instret();
    (b - a - empty, r)
}

/// A deterministic SI window: `k` selects one of a few wrist-like signals (gravity on one axis,
/// periodic motion, rotation).
fn window(k: usize) -> Window {
    let mut w = [[0f32; CHANNELS]; WINDOW_LEN];
    for (t, s) in w.iter_mut().enumerate() {
        for (c, v) in s.iter_mut().enumerate() {
            let phase = ((t * (3 + k) + c * 7) % 20) as f32 / 20.0;
            let tri = if phase < 0.5 { phase } else { 1.0 - phase } * 4.0 - 1.0;
            let gravity = if c == 2 - k % 3 { 9.81 } else { 0.0 };
            let scale = if c < 3 { 3.0 } else { 1.2 };
            *v = gravity + scale * tri * (1 + k) as f32 / 2.0;
        }
    }
    w
}

#[unsafe(no_mangle)]
extern "C" fn main() -> ! {
    let mut out = Uart;
    let mut arena = [0u8; ARENA];
    let _ = writeln!(out, "rv32-bench start");
    for (name, blob) in BLOBS {
        let (parse, model) = count(|| Model::parse(black_box(blob)));
        let Ok(model) = model else {
            let _ = writeln!(out, "{name} parse-error");
            exit(2)
        };
        let (self_test, ok) = count(|| model.self_test(&mut arena));
        if ok.is_err() {
            let _ = writeln!(out, "{name} self-test-failed");
            exit(3)
        }
        let input = model.self_test_vector().input();
        let (quantized, _) = count(|| model.infer_quantized(black_box(&input), &mut arena));
        let mut worst = 0;
        let mut total = 0;
        const WINDOWS: usize = 4;
        for k in 0..WINDOWS {
            let w = window(k);
            let (n, p) = count(|| model.infer(black_box(&w), &mut arena));
            if p.is_err() {
                let _ = writeln!(out, "{name} infer-failed");
                exit(4)
            }
            worst = worst.max(n);
            total += n;
        }
        let _ = writeln!(out, "{name} bytes {}", blob.len());
        let _ = writeln!(out, "{name} macs {}", model.macs());
        let _ = writeln!(out, "{name} parse_sha256 {parse}");
        let _ = writeln!(out, "{name} self_test {self_test}");
        let _ = writeln!(out, "{name} infer_quantized {quantized}");
        let _ = writeln!(out, "{name} infer_mean {}", total / WINDOWS as u64);
        let _ = writeln!(out, "{name} infer_max {worst}");
    }
    {
        use bandx_core::quant::{mul_shift_div, quantize_i16, round_mul_shift};
        let (a, _) =
            count(|| round_mul_shift(black_box(123_456), black_box(1_500_000_000), black_box(-9)));
        let (b, _) = count(|| {
            mul_shift_div(
                black_box(123_456),
                black_box(1_500_000_000),
                black_box(-9),
                8,
                black_box(15),
            )
        });
        let (c, _) = count(|| quantize_i16(black_box(1.234), black_box(0.001), 0));
        let _ = writeln!(out, "op round_mul_shift {a}");
        let _ = writeln!(out, "op mul_shift_div {b}");
        let _ = writeln!(out, "op quantize_i16 {c}");
        let (d, _) = count(|| bandx_core::quant::exp_f32(black_box(-1.234)));
        let _ = writeln!(out, "op exp_f32 {d}");
        let model = Model::parse(BLOBS[0].1).unwrap();
        let (e, _) = count(|| black_box(model.layers()).iter().count());
        let _ = writeln!(out, "op layers_iter {e}");
    }
    owner(&mut out);
    let _ = writeln!(out, "rv32-bench done");
    exit(0)
}

/// The owner record's two sectors in RAM (erased), for `OwnerRecord::load`.
struct RamFlash([u8; bandx_core::owner::OWNER_RECORD_LEN as usize]);

impl bandx_core::owner::OwnerFlash for RamFlash {
    fn read(
        &mut self,
        offset: u32,
        buf: &mut [u8],
    ) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }
    fn program(
        &mut self,
        offset: u32,
        data: &[u8],
    ) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        for (d, b) in self.0[at..at + data.len()].iter_mut().zip(data) {
            *d &= b;
        }
        Ok(())
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), bandx_core::update::StorageError> {
        let at = offset as usize;
        self.0[at..at + bandx_core::owner::OWNER_RECORD_SECTOR as usize].fill(0xFF);
        Ok(())
    }
}

/// The owner's public key and signature over [`owner_grant`]'s message, made on the host with ed25519-dalek from
/// the secret seed `[7; 32]` (constants, so the harness links only what the band links: no signing code).
const OWNER_KEY: [u8; 32] = [
    234, 74, 108, 99, 226, 156, 82, 10, 190, 245, 80, 123, 19, 46, 197, 249, 149, 71, 118, 174,
    190, 190, 123, 146, 66, 30, 234, 105, 20, 70, 210, 44,
];
const OWNER_SIGNATURE: [u8; 64] = [
    244, 6, 16, 129, 129, 247, 207, 202, 228, 226, 6, 89, 208, 44, 116, 139, 45, 156, 165, 93, 103,
    206, 187, 92, 223, 3, 110, 37, 37, 137, 78, 167, 14, 68, 251, 32, 58, 121, 28, 220, 159, 20,
    237, 150, 88, 132, 205, 209, 43, 39, 60, 50, 163, 3, 137, 220, 31, 61, 71, 119, 33, 224, 84, 9,
];

fn owner_grant() -> bandx_core::owner::Grant {
    bandx_core::owner::Grant {
        target: bandx_core::protocol::UpdateTarget::Firmware,
        version: 3,
        total_len: 444_400,
        sha256: [0x5A; 32],
        downgrade: false,
    }
}

/// What the owner check costs the band: the key parse (`SetOwner`, boot), the check of one update's signed
/// grant (valid, and forged), and loading the owner record at boot.
fn owner(out: &mut Uart) {
    use bandx_core::owner::{OwnerKey, OwnerRecord, verify};
    let key_bytes = OWNER_KEY;
    let grant = owner_grant();
    let signature = OWNER_SIGNATURE;
    let (parse, key) = count(|| OwnerKey::from_bytes(black_box(&key_bytes)));
    let Ok(key) = key else {
        let _ = writeln!(out, "owner key-refused");
        exit(5)
    };
    let (verified, ok) =
        count(|| verify(black_box(&key), black_box(&grant), black_box(&signature)));
    let mut forged = signature;
    forged[10] ^= 1;
    let (refused, bad) = count(|| verify(black_box(&key), black_box(&grant), black_box(&forged)));
    if ok.is_err() || bad.is_ok() {
        let _ = writeln!(out, "owner verify-wrong");
        exit(6)
    }
    let mut flash = RamFlash([0xFF; bandx_core::owner::OWNER_RECORD_LEN as usize]);
    let stored = OwnerRecord::load(&mut flash).and_then(|mut r| r.set(&mut flash, &key));
    let (load, record) = count(|| OwnerRecord::load(black_box(&mut flash)));
    if stored.is_err() || record.map(|r| r.owner()) != Ok(Some(key)) {
        let _ = writeln!(out, "owner record-wrong");
        exit(7)
    }
    let _ = writeln!(out, "owner verify {verified}");
    let _ = writeln!(out, "owner verify_forged {refused}");
    let _ = writeln!(out, "owner key_parse {parse}");
    let _ = writeln!(out, "owner record_load {load}");
}
