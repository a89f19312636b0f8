//! The log against a simulated NOR flash that loses power at any operation and tears it: capacity, wrap,
//! power cuts, wall-clock fix-ups, and the minute accumulator.
extern crate std;

use super::record::{Header, decode_record, encode_record};
use super::*;
use crate::torn_nor::Power;
use crate::update::StorageError;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const LEN: u32 = 16 * LOG_SECTOR;

#[derive(Clone)]
/// NOR flash: erase sets 0xFF, programming clears bits. After `power.left` mutating operations the power
/// fails: that operation is torn (a random part of it lands, bit by bit) and every later one fails.
struct Nor {
    bytes: Vec<u8>,
    power: Power,
    rng: u64,
    erases: Vec<u32>,
}

impl Nor {
    fn new() -> Self {
        Nor {
            bytes: vec![0xFF; LEN as usize],
            power: Power::default(),
            rng: 0x9E37_79B9_7F4A_7C15,
            erases: Vec::new(),
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

impl LogFlash for Nor {
    fn log_len(&self) -> u32 {
        LEN
    }
    fn log_read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.power.check()?;
        let o = offset as usize;
        buf.copy_from_slice(self.bytes.get(o..o + buf.len()).ok_or(StorageError)?);
        Ok(())
    }
    fn log_program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        assert!(
            offset.is_multiple_of(4) && data.len().is_multiple_of(4),
            "unaligned program"
        );
        let whole = self.power.spend()?;
        for (i, &d) in data.iter().enumerate() {
            // A torn program clears a random part of the bits it should clear.
            let mask = if whole { 0xFF } else { self.random() as u8 };
            self.bytes[offset as usize + i] &= !(!d & mask);
        }
        if whole { Ok(()) } else { Err(StorageError) }
    }
    fn log_erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        assert!(offset.is_multiple_of(LOG_SECTOR));
        let whole = self.power.spend()?;
        self.erases.push(offset / LOG_SECTOR);
        for i in 0..LOG_SECTOR as usize {
            // A torn erase sets a random part of the bits.
            let mask = if whole { 0xFF } else { self.random() as u8 };
            self.bytes[offset as usize + i] |= mask;
        }
        if whole { Ok(()) } else { Err(StorageError) }
    }
}

fn minute(class: u8, dominant: u8, windows: u8, confidence_pct: u8) -> Minute {
    Minute {
        class,
        dominant: dominant.min(windows),
        windows,
        confidence_pct,
        not_worn: false,
        no_model: false,
    }
}

fn all(log: &ActivityLog, flash: &mut Nor, after: u32) -> Vec<LogEntry> {
    let mut out = Vec::new();
    log.read_after(flash, after, |e| {
        out.push(e);
        true
    })
    .expect("read");
    out
}

const MODEL: ModelTag = ModelTag { id: 7, version: 3 };

#[test]
fn a_record_is_six_bytes_and_sixteen_sectors_hold_seven_days_even_right_after_a_wrap() {
    assert_eq!(RECORD_LEN, 6);
    assert_eq!(RECORDS_PER_SECTOR, 672);
    const { assert!(HEADER_LEN + RECORDS_PER_SECTOR * RECORD_LEN <= LOG_SECTOR) };
    const { assert!(MIN_CAPACITY_RECORDS >= 7 * 24 * 60) };

    let mut flash = Nor::new();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    // Three times round the ring, checking after every append how much is held.
    let total = 3 * 16 * RECORDS_PER_SECTOR + 5;
    let mut least_held = u32::MAX;
    for m in 0..total {
        let seq = log
            .append(&mut flash, m, MODEL, &minute((m % 24) as u8, 30, 40, 80))
            .unwrap();
        assert_eq!(seq, m + 1);
        if m >= 16 * RECORDS_PER_SECTOR {
            least_held = least_held.min(log.next_seq() - log.oldest_seq());
        }
    }
    assert!(least_held > MIN_CAPACITY_RECORDS, "held only {least_held}");
    // Read back: contiguous, the newest ones, contents intact.
    let got = all(&log, &mut flash, 0);
    assert_eq!(got.len() as u32, log.next_seq() - log.oldest_seq());
    assert_eq!(got.last().unwrap().seq, total);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.seq, got[0].seq + i as u32);
        let m = e.seq - 1;
        assert_eq!(e.data, minute((m % 24) as u8, 30, 40, 80));
        assert_eq!(e.model, MODEL);
    }
}

#[test]
fn wrapping_erases_only_the_oldest_sector_one_at_a_time() {
    let mut flash = Nor::new();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    for m in 0..16 * RECORDS_PER_SECTOR {
        log.append(&mut flash, m, MODEL, &minute(1, 1, 1, 50))
            .unwrap();
    }
    assert_eq!(
        flash.erases,
        (0..16).collect::<Vec<_>>(),
        "each sector erased once, in order"
    );
    assert_eq!(log.oldest_seq(), 1);
    flash.erases.clear();
    log.append(&mut flash, 100, MODEL, &minute(2, 1, 1, 50))
        .unwrap();
    assert_eq!(
        flash.erases,
        vec![0],
        "the wrap erased the oldest sector only"
    );
    assert_eq!(log.oldest_seq(), 1 + RECORDS_PER_SECTOR);
    // Everything else is still there.
    assert_eq!(
        all(&log, &mut flash, 0).len() as u32,
        15 * RECORDS_PER_SECTOR + 1
    );
}

#[test]
fn reads_resume_after_any_sequence_number() {
    let mut flash = Nor::new();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    for m in 0..2000 {
        log.append(&mut flash, m, MODEL, &minute(3, 2, 2, 90))
            .unwrap();
    }
    for after in [0, 1, 671, 672, 673, 1999, 2000, 5000] {
        let got = all(&log, &mut flash, after);
        let want = 2000u32.saturating_sub(after);
        assert_eq!(got.len() as u32, want, "after {after}");
        if let Some(first) = got.first() {
            assert_eq!(first.seq, after + 1);
            assert_eq!(first.minute, after);
        }
    }
}

#[test]
fn a_reboot_or_a_new_model_opens_a_sector_and_records_say_which() {
    let mut flash = Nor::new();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    let boot0 = log.boot();
    log.append(&mut flash, 0, MODEL, &minute(1, 1, 1, 1))
        .unwrap();
    log.append(
        &mut flash,
        1,
        ModelTag { id: 7, version: 4 },
        &minute(1, 1, 1, 1),
    )
    .unwrap();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    assert_eq!(log.boot(), boot0 + 1);
    log.append(&mut flash, 0, ModelTag::default(), &minute(0, 0, 0, 0))
        .unwrap();
    let got = all(&log, &mut flash, 0);
    let seen: Vec<_> = got
        .iter()
        .map(|e| (e.seq, e.boot, e.minute, e.model.version))
        .collect();
    assert_eq!(
        seen,
        vec![(1, boot0, 0, 3), (2, boot0, 1, 4), (3, boot0 + 1, 0, 0)]
    );
}

#[test]
fn the_wall_clock_fixes_up_this_boots_records_and_earlier_boots_stay_unknown() {
    let mut flash = Nor::new();
    let mut log = ActivityLog::load(&mut flash).unwrap();
    // Boot 0: never synced.
    log.append(&mut flash, 0, MODEL, &minute(1, 1, 1, 1))
        .unwrap();
    // Boot 1: two records, then the desktop sets the time, then another record (a new model: new sector).
    let mut log = ActivityLog::load(&mut flash).unwrap();
    log.append(&mut flash, 0, MODEL, &minute(1, 1, 1, 1))
        .unwrap();
    log.append(&mut flash, 1, MODEL, &minute(1, 1, 1, 1))
        .unwrap();
    let t0 = 1_764_000_000_000u64;
    log.set_time(&mut flash, t0).unwrap();
    log.set_time(&mut flash, t0 + 1234).unwrap();
    log.append(&mut flash, 2, ModelTag::default(), &minute(1, 1, 1, 1))
        .unwrap();
    // Boot 2 reads them: the fix-up survived the reboot; boot 0's stay unknown.
    let mut log = ActivityLog::load(&mut flash).unwrap();
    let times: Vec<_> = all(&log, &mut flash, 0).iter().map(|e| e.unix_ms).collect();
    assert_eq!(
        times,
        vec![None, Some(t0), Some(t0 + 60_000), Some(t0 + 120_000)]
    );
    // Boot 2 before its own sync: its records are unknown until it is set, then known.
    log.append(&mut flash, 5, MODEL, &minute(1, 1, 1, 1))
        .unwrap();
    assert_eq!(all(&log, &mut flash, 4)[0].unix_ms, None);
    log.set_time(&mut flash, t0 + 86_400_000).unwrap();
    assert_eq!(
        all(&log, &mut flash, 4)[0].unix_ms,
        Some(t0 + 86_400_000 + 300_000)
    );
}

#[test]
fn a_board_without_a_partition_has_no_log() {
    struct NoLog;
    impl LogFlash for NoLog {
        fn log_len(&self) -> u32 {
            0
        }
        fn log_read(&mut self, _: u32, _: &mut [u8]) -> Result<(), StorageError> {
            Err(StorageError)
        }
        fn log_program(&mut self, _: u32, _: &[u8]) -> Result<(), StorageError> {
            Err(StorageError)
        }
        fn log_erase_sector(&mut self, _: u32) -> Result<(), StorageError> {
            Err(StorageError)
        }
    }
    let mut log = ActivityLog::load(&mut NoLog).unwrap();
    assert!(!log.available());
    assert_eq!(
        log.append(&mut NoLog, 0, MODEL, &Minute::default()),
        Err(StorageError)
    );
}

#[test]
fn the_accumulator_picks_the_dominant_class_its_share_and_mean_confidence() {
    let mut acc = MinuteAccumulator::new();
    for _ in 0..25 {
        acc.add(false, Some((4, 900)));
    }
    for _ in 0..10 {
        acc.add(false, Some((2, 500)));
    }
    acc.add(false, Some((4, 700)));
    for _ in 0..4 {
        acc.add(false, None);
    }
    let m = acc.finish();
    assert_eq!((m.class, m.dominant, m.windows), (4, 26, 40));
    // (25 * 900 + 700) / 26 = 892.3 permille.
    assert_eq!(m.confidence_pct, 89);
    assert!((m.share() - 0.65).abs() < 1e-6);
    assert!(!m.not_worn && !m.no_model);
    // Starts over; a minute without windows is "not worn", one without predictions "no model".
    assert!(acc.finish().not_worn);
    acc.add(false, None);
    let m = acc.finish();
    assert!(m.no_model && !m.not_worn);
    acc.add(true, None);
    assert!(acc.finish().not_worn);
    // Taking the band off mid-minute: the minute is "not worn" once most of its windows are motionless.
    for motionless in [true, true, true, false] {
        acc.add(motionless, Some((1, 900)));
    }
    assert!(acc.finish().not_worn);
    for motionless in [true, false, false, false] {
        acc.add(motionless, Some((1, 900)));
    }
    assert!(!acc.finish().not_worn);
}

#[test]
fn a_still_window_is_motionless_and_a_worn_one_is_not() {
    let mut w = [[0.0f32, 0.0, 9.81, 0.0, 0.0, 0.0]; crate::WINDOW_LEN];
    assert!(minute::is_motionless(&w));
    for (t, s) in w.iter_mut().enumerate() {
        s[0] = 0.3 * (t as f32 * 0.7).sin();
    }
    assert!(!minute::is_motionless(&w));
}

#[test]
fn a_power_cut_at_each_step_of_a_wrap_loses_only_the_oldest_sector_and_the_new_record() {
    let mut full = Nor::new();
    let mut log = ActivityLog::load(&mut full).unwrap();
    let n = 16 * RECORDS_PER_SECTOR;
    for m in 0..n {
        log.append(&mut full, m, MODEL, &minute((m % 24) as u8, 1, 1, 50))
            .unwrap();
    }
    // The next append marks, erases, writes a header, then programs the record twice: cut each in turn
    // (with several tearing patterns).
    for cut in 0..6 {
        for seed in 1..6u64 {
            let mut flash = full.clone();
            flash.rng ^= seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let mut log = ActivityLog::load(&mut flash).unwrap();
            flash.power.left = Some(cut);
            let result = log.append(&mut flash, 0, MODEL, &minute(5, 1, 1, 50));
            assert_eq!(result.is_ok(), cut >= 5, "cut {cut}");
            flash.power.reboot();
            let log = ActivityLog::load(&mut flash).unwrap();
            let got = all(&log, &mut flash, 0);
            // The 15 newest sectors are intact; the new record is there whole or not at all.
            let old: Vec<_> = got.iter().filter(|e| e.seq <= n).collect();
            assert_eq!(
                old.len() as u32,
                15 * RECORDS_PER_SECTOR,
                "cut {cut} seed {seed}"
            );
            assert_eq!(old[0].seq, RECORDS_PER_SECTOR + 1);
            for e in &old {
                assert_eq!(e.data, minute(((e.seq - 1) % 24) as u8, 1, 1, 50));
            }
            let new: Vec<_> = got.iter().filter(|e| e.seq > n).collect();
            assert!(new.len() <= 1);
            if let Some(e) = new.first() {
                assert_eq!((e.seq, e.data), (n + 1, minute(5, 1, 1, 50)));
            }
            // And the log goes on.
            let mut log = log;
            let seq = log
                .append(&mut flash, 0, MODEL, &minute(6, 1, 1, 50))
                .unwrap();
            assert!(seq > n);
            assert_eq!(all(&log, &mut flash, seq - 1)[0].data, minute(6, 1, 1, 50));
        }
    }
}

fn arb_minute() -> impl Strategy<Value = Minute> {
    (
        0u8..24,
        0u8..=40,
        0u8..=40,
        0u8..=100,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(class, d, w, c, nw, nm)| Minute {
            class,
            dominant: d.min(w),
            windows: w,
            confidence_pct: c,
            not_worn: nw,
            no_model: nm,
        })
}

proptest! {
    #[test]
    fn records_and_headers_round_trip(delta in 0u32..=8191, m in arb_minute(), seq in any::<u32>(), boot in any::<u32>(),
                                      time in proptest::option::of(any::<u64>())) {
        let (first, committed) = encode_record(delta, &m);
        prop_assert_eq!(decode_record(&committed), record::Slot::Record(delta, m));
        prop_assert_eq!(decode_record(&first), record::Slot::Broken);
        let h = Header { base_seq: seq, boot, base_minute: 9, model_id: 1, model_version: 2, retiring_next: false, boot_unix_ms: time };
        prop_assert_eq!(Header::decode(&h.encode()), Some(h));
    }

    #[test]
    fn any_six_bytes_decode_without_panicking(bytes in any::<[u8; 6]>()) {
        let _ = decode_record(&bytes);
    }

    /// Appends across boots with power cuts at random operations (torn at the bit level): after every
    /// reboot, every record whose append returned Ok and that the ring still covers reads back exactly,
    /// nothing else appears, and each cut lost at most the record being written.
    #[test]
    fn a_power_cut_at_any_operation_loses_at_most_the_record_being_written(
        boots in proptest::collection::vec((0usize..1500, proptest::option::of(0usize..1600), any::<bool>()), 1..6),
        seed in any::<u64>(),
        minutes in proptest::collection::vec(arb_minute(), 64),
    ) {
        let mut flash = Nor::new();
        flash.rng ^= seed | 1;
        // seq -> (boot, minute, data) of every append that returned Ok.
        let mut stored: std::collections::BTreeMap<u32, (u32, u32, Minute)> = Default::default();
        // The record being written when the power went: it may read back (whole) or not at all.
        let mut pending: Option<(u32, (u32, u32, Minute))> = None;
        for (appends, cut_after, set_time) in boots {
            flash.power.reboot();
            let mut log = ActivityLog::load(&mut flash).unwrap();
            // Check what survived.
            let got = all(&log, &mut flash, 0);
            if let Some((seq, record)) = pending.take()
                && got.iter().any(|e| e.seq == seq)
            {
                stored.insert(seq, record);
            }
            for e in &got {
                let want = stored.get(&e.seq);
                prop_assert_eq!(want, Some(&(e.boot, e.minute, e.data)), "seq {} read back wrong", e.seq);
            }
            let oldest = log.oldest_seq();
            let held = stored.range(oldest..).count();
            prop_assert_eq!(held, got.len(), "a stored record went missing");
            if set_time {
                log.set_time(&mut flash, 1_700_000_000_000).unwrap();
            }
            flash.power.left = cut_after;
            for m in 0..appends as u32 {
                let seq_before = log.next_seq();
                let data = minutes[m as usize % minutes.len()];
                match log.append(&mut flash, m, MODEL, &data) {
                    Ok(seq) => {
                        prop_assert!(seq >= seq_before);
                        stored.insert(seq, (log.boot(), m, data));
                    }
                    Err(_) => {
                        pending = Some((seq_before, (log.boot(), m, data)));
                        break;
                    }
                }
            }
        }
        // A final clean boot sees every stored record the ring covers.
        flash.power.reboot();
        let log = ActivityLog::load(&mut flash).unwrap();
        let got = all(&log, &mut flash, 0);
        if let Some((seq, record)) = pending.take()
            && got.iter().any(|e| e.seq == seq)
        {
            stored.insert(seq, record);
        }
        for e in &got {
            prop_assert_eq!(stored.get(&e.seq), Some(&(e.boot, e.minute, e.data)));
        }
        prop_assert_eq!(got.len(), stored.range(log.oldest_seq()..).count());
        for w in got.windows(2) {
            prop_assert!(w[0].seq < w[1].seq);
        }
    }
}
