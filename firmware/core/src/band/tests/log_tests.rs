//! The band's activity log through `Band`: every minute logged with what the band predicted, with or
//! without a desktop; `SetTime` stamps this boot's minutes; `ReadLog` pages through them.

use super::*;
use crate::protocol::{LogChunk, LogRecord};

const TICKS_PER_MINUTE: u32 = 60_000 / (1000 / SAMPLE_RATE_HZ);

fn read_log(band: &mut Band<HostPlatform>, after_seq: u32, max: u8) -> LogChunk {
    match call(band, 5, RequestBody::ReadLog { after_seq, max }).body {
        ResponseBody::Log(chunk) => chunk,
        other => panic!("ReadLog answered {other:?}"),
    }
}

fn band_with_model(payload: usize) -> Band<HostPlatform> {
    let mut band = Band::new(HostPlatform::new(payload), "0.1.0");
    band.on_link_secured(true);
    upload(&mut band, UpdateTarget::Model, &demo_blob(4), 4);
    band
}

#[test]
fn every_minute_is_logged_with_what_the_band_predicted_live() {
    let mut band = band_with_model(244);
    assert_eq!(
        call(&mut band, 2, RequestBody::StartPredictions).body,
        ResponseBody::Ok
    );
    // Per minute, per class: windows and summed confidence, from the live prediction notifications.
    let mut live = [[(0u32, 0u32); crate::blob::MAX_CLASSES]; 3];
    for _ in 0..3 * TICKS_PER_MINUTE + 1 {
        band.tick();
        for bytes in band.platform_mut().take(Characteristic::Predictions) {
            let p = PredictionEvent::decode(&bytes).unwrap();
            let slot = &mut live[(p.timestamp_ms / 60_000) as usize][usize::from(p.class)];
            slot.0 += 1;
            slot.1 += u32::from(p.confidence_permille);
        }
    }
    let chunk = read_log(&mut band, 0, 255);
    assert_eq!((chunk.oldest_seq, chunk.next_seq), (1, 4));
    assert_eq!(chunk.records.len(), 3);
    for (m, record) in chunk.records.iter().enumerate() {
        let windows: u32 = live[m].iter().map(|c| c.0).sum();
        // Dominant: most windows, the lowest class on a tie.
        let (class, &(n, sum)) = live[m]
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (c.0, core::cmp::Reverse(*i)))
            .unwrap();
        // A full minute holds 40 windows; the first one after boot 39 (the first window needs 3 s).
        assert_eq!(windows, if m == 0 { 39 } else { 40 }, "minute {m}");
        assert_eq!(
            (
                record.seq,
                record.minute,
                record.class,
                record.dominant,
                record.windows
            ),
            (m as u32 + 1, m as u32, class as u8, n as u8, windows as u8),
            "minute {m}"
        );
        assert_eq!(u32::from(record.confidence_pct), (sum / n + 5) / 10);
        assert_eq!(
            (record.model_version, record.flags, record.unix_ms),
            (4, 0, None)
        );
    }
}

#[test]
fn the_band_logs_the_same_minutes_with_no_desktop_connected() {
    let mut live = band_with_model(244);
    let mut alone = band_with_model(244);
    call(&mut live, 2, RequestBody::StartPredictions);
    for _ in 0..2 * TICKS_PER_MINUTE + 1 {
        live.tick();
        alone.tick();
    }
    assert!(
        alone
            .platform_mut()
            .take(Characteristic::Predictions)
            .is_empty()
    );
    let a = read_log(&mut live, 0, 255);
    let b = read_log(&mut alone, 0, 255);
    assert_eq!(a.records.len(), 2);
    assert_eq!(a, b);
}

#[test]
fn set_time_stamps_the_minutes_of_this_boot_before_and_after_it() {
    let mut band = Band::new(HostPlatform::new(244), "0.1.0");
    band.on_link_secured(true);
    for _ in 0..2 * TICKS_PER_MINUTE + 100 {
        band.tick();
    }
    let before = read_log(&mut band, 0, 255);
    assert!(before.records.iter().all(|r| r.unix_ms.is_none()));
    // No model: the minutes say so.
    assert!(
        before
            .records
            .iter()
            .all(|r| r.flags == crate::protocol::FLAG_NO_MODEL)
    );
    let uptime = band.uptime_ms();
    let now = 1_764_930_000_123u64;
    assert_eq!(
        call(&mut band, 3, RequestBody::SetTime { unix_ms: now }).body,
        ResponseBody::Ok
    );
    for _ in 0..TICKS_PER_MINUTE {
        band.tick();
    }
    let after = read_log(&mut band, 0, 255);
    let boot_unix = now - uptime;
    let times: Vec<_> = after.records.iter().map(|r| r.unix_ms).collect();
    assert_eq!(
        times,
        vec![
            Some(boot_unix),
            Some(boot_unix + 60_000),
            Some(boot_unix + 120_000)
        ]
    );
}

#[test]
fn read_log_pages_through_a_long_log_in_messages_that_fit() {
    let mut band = Band::new(HostPlatform::new(20), "0.1.0");
    band.on_link_secured(true);
    for _ in 0..100 * TICKS_PER_MINUTE + 1 {
        band.tick();
    }
    let mut got: Vec<LogRecord> = Vec::new();
    let mut after = 0;
    loop {
        let chunk = read_log(&mut band, after, 255);
        assert_eq!((chunk.oldest_seq, chunk.next_seq), (1, 101));
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let response = Response {
            id: 5,
            body: ResponseBody::Log(chunk.clone()),
        };
        assert!(encode_response(&response, &mut buf).is_ok());
        let Some(last) = chunk.records.last() else {
            break;
        };
        after = last.seq;
        got.extend(chunk.records);
    }
    assert_eq!(got.len(), 100);
    assert!(
        got.iter()
            .enumerate()
            .all(|(i, r)| r.seq == i as u32 + 1 && r.minute == i as u32)
    );
    // `max` is honoured.
    assert_eq!(read_log(&mut band, 10, 3).records.len(), 3);
    assert_eq!(read_log(&mut band, 10, 3).records[0].seq, 11);
}

#[test]
fn a_band_without_a_log_partition_says_so() {
    let mut p = HostPlatform::new(244);
    p.log_flash.clear();
    let mut band = Band::new(p, "0.1.0");
    band.on_link_secured(true);
    for _ in 0..TICKS_PER_MINUTE + 1 {
        band.tick();
    }
    assert_eq!(
        call(
            &mut band,
            5,
            RequestBody::ReadLog {
                after_seq: 0,
                max: 10
            }
        )
        .body,
        ResponseBody::Error(ErrorCode::NoLog)
    );
    assert_eq!(
        call(&mut band, 6, RequestBody::SetTime { unix_ms: 1 }).body,
        ResponseBody::Ok
    );
}
