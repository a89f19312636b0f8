//! The virtual band driven from the desktop side with bandx-core's protocol, over the sim link.

mod support;

use bandx_core::demo::DEMO_LABELS;
use bandx_core::frame::{LossDetector, SeqEvent};
use bandx_core::imu::{FullScale, RawSample};
use bandx_core::protocol::{
    BULK_UUID, CONTROL_UUID, ErrorCode, IMU_UUID, RequestBody, ResponseBody, UpdateTarget,
};
use bandx_sim::wearer::bundled_excerpt;
use bandx_sim::{
    Activity, DisconnectReason, Faults, LinkEvent, SIM_FIRMWARE_VERSION, SimBand, SimConfig,
    SimError, Style,
};
use support::{Desktop, demo_blob, fresh_band, model_version};

#[test]
fn get_info_describes_the_band_at_both_mtus() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    for (mtu, capacity) in [(23, 1), (247, 19)] {
        let mut d = Desktop::connect(&band, mtu);
        let info = d.info();
        assert_eq!(info.firmware_version.as_str(), SIM_FIRMWARE_VERSION);
        assert_eq!(info.sample_rate_hz, 20);
        assert_eq!(info.frame_capacity, capacity, "MTU {mtu}");
        let model = info.model.expect("a fresh band has its starting model");
        assert_eq!(model.version, 1);
        let labels: Vec<&str> = model.labels.iter().map(|l| l.as_str()).collect();
        assert_eq!(labels, DEMO_LABELS);
        d.conn.disconnect().unwrap();
    }
    let ad = band.scan_result();
    assert!(ad.name.starts_with("BandX"));
    assert_eq!(ad.service_uuid, bandx_core::protocol::SERVICE_UUID);
}

#[test]
fn imu_frames_arrive_at_20_hz_and_carry_the_wearers_recording() {
    let excerpt = bundled_excerpt();
    let recording = &excerpt.recording(Activity::JOGGING).unwrap().samples;
    let step = FullScale::DEFAULT.to_si(&RawSample {
        accel: [1; 3],
        gyro: [1; 3],
    });
    for mtu in [23, 247] {
        let dir = tempfile::tempdir().unwrap();
        let band = fresh_band(dir.path());
        let mut d = Desktop::connect(&band, mtu);
        // Pairing took band time, and the band reads its IMU on every tick: start the recording afresh here.
        band.set_activity(Activity::JOGGING).unwrap();
        band.with_wearer(|w| w.seek(0.0)).unwrap();
        assert_eq!(d.request(RequestBody::StartImu).unwrap(), ResponseBody::Ok);
        d.run(20 * 30); // 30 s

        let mut loss = LossDetector::default();
        for f in &d.frames {
            assert_eq!(loss.accept(f.seq), SeqEvent::InOrder, "MTU {mtu}");
        }
        let per_frame = d.frames[0].samples.len();
        assert_eq!(per_frame, if mtu == 23 { 1 } else { 19 });
        // 20 Hz on the band clock: each frame starts per_frame × 50 ms after the previous one.
        for w in d.frames.windows(2) {
            assert_eq!(w[1].timestamp_ms - w[0].timestamp_ms, per_frame as u32 * 50);
        }
        let samples: Vec<RawSample> = d.frames.iter().flat_map(|f| f.samples.clone()).collect();
        assert!(
            samples.len() >= 600 - per_frame - 2,
            "{} samples in 30 s",
            samples.len()
        );
        // The samples are the recording, within the IMU's quantization.
        for (k, raw) in samples.iter().enumerate() {
            let si = d.frames[0].full_scale.to_si(raw);
            for c in 0..6 {
                assert!(
                    (si[c] - recording[k][c]).abs() <= step[c] / 2.0 + 1e-4,
                    "MTU {mtu} sample {k} channel {c}: {} vs {}",
                    si[c],
                    recording[k][c]
                );
            }
        }
        // StopImu stops them.
        assert_eq!(d.request(RequestBody::StopImu).unwrap(), ResponseBody::Ok);
        let before = d.frames.len();
        d.run(40);
        assert!(d.frames.len() <= before + 1);
    }
}

#[test]
fn another_wearing_style_changes_what_the_band_measures() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let mut d = Desktop::connect(&band, 247);
    // Pairing took band time, and the band reads its IMU on every tick: start the recording afresh here.
    band.set_activity(Activity::WALKING).unwrap();
    band.with_wearer(|w| w.seek(0.0)).unwrap();
    band.set_style(Style {
        other_wrist: true,
        roll_deg: 0.0,
        tempo: 1.0,
    })
    .unwrap();
    d.request(RequestBody::StartImu).unwrap();
    d.run(19 * 5);
    let excerpt = bundled_excerpt();
    let recording = &excerpt.recording(Activity::WALKING).unwrap().samples;
    let fs = FullScale::DEFAULT;
    for (k, raw) in d.frames.iter().flat_map(|f| f.samples.clone()).enumerate() {
        let si = fs.to_si(&raw);
        // Other wrist: accel x and gyro y, z mirrored.
        assert!((si[0] + recording[k][0]).abs() < 0.01);
        assert!((si[1] - recording[k][1]).abs() < 0.01);
        assert!((si[4] + recording[k][4]).abs() < 0.01);
    }
}

#[test]
fn predictions_are_notified_while_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let mut d = Desktop::connect(&band, 23);
    assert_eq!(
        d.request(RequestBody::StartPredictions).unwrap(),
        ResponseBody::Ok
    );
    d.run(20 * 15); // 15 s: windows at 60, 90, ... samples
    let n = d.predictions.len();
    assert!((8..=10).contains(&n), "{n} predictions in 15 s");
    for (i, p) in d.predictions.iter().enumerate() {
        assert_eq!(p.window_seq, d.predictions[0].window_seq + i as u32);
        assert!((p.class as usize) < DEMO_LABELS.len());
        assert!(p.confidence_permille <= 1000);
    }
    for w in d.predictions.windows(2) {
        assert_eq!(
            w[1].timestamp_ms - w[0].timestamp_ms,
            1500,
            "one window per 30 samples"
        );
    }
    assert_eq!(
        d.request(RequestBody::StopPredictions).unwrap(),
        ResponseBody::Ok
    );
    let stopped = d.predictions.len();
    d.run(100);
    assert_eq!(d.predictions.len(), stopped);
}

/// Uploads `image` over connections that may drop; returns the offset the band reported at the start
/// of each connection.
fn upload_resuming(band: &SimBand, mtu: u16, image: &[u8], version: u32) -> Vec<u32> {
    let mut starts = Vec::new();
    for _attempt in 0..10 {
        let mut d = Desktop::connect(band, mtu);
        let events = d.conn.events();
        let result = (|| -> Result<ResponseBody, SimError> {
            let from = d.begin_model(image, version)?;
            starts.push(from);
            d.send_chunks(image, from as usize)?;
            // A dropped chunk shows up as a gap: ask where the band is and fill it.
            loop {
                match d.request(RequestBody::UpdateStatus {
                    target: UpdateTarget::Model,
                })? {
                    ResponseBody::UpdateStatus {
                        next_offset,
                        total_len,
                        ..
                    } if next_offset < total_len => d.send_chunks(image, next_offset as usize)?,
                    _ => break,
                }
            }
            d.request(RequestBody::CommitUpdate {
                target: UpdateTarget::Model,
            })
        })();
        match result {
            Ok(body) => {
                assert_eq!(body, ResponseBody::Ok);
                return starts;
            }
            Err(SimError::NotConnected) => {
                assert_eq!(
                    events.try_recv(),
                    Ok(LinkEvent::Disconnected(DisconnectReason::Lost))
                );
            }
            Err(e) => panic!("upload failed: {e}"),
        }
    }
    panic!("upload did not finish in 10 connections");
}

#[test]
fn a_model_upload_cut_by_a_disconnect_resumes_from_the_bands_offset_and_commits() {
    for mtu in [23, 247] {
        let dir = tempfile::tempdir().unwrap();
        let band = fresh_band(dir.path());
        let image = demo_blob(2);
        // Each connection drops after 60 % of the image.
        band.set_faults(Faults::none().disconnect_after_bytes(image.len() as u64 * 6 / 10));
        let starts = upload_resuming(&band, mtu, &image, 2);
        assert!(
            starts.len() >= 2,
            "MTU {mtu}: the link did drop: {starts:?}"
        );
        // Resumed, not restarted: each connection went on from where the band had got to.
        assert_eq!(starts[0], 0);
        assert!(
            starts.windows(2).all(|w| w[1] > w[0]),
            "MTU {mtu}: {starts:?}"
        );
        band.set_faults(Faults::none());
        let mut d = Desktop::connect(&band, mtu);
        assert_eq!(model_version(&mut d), Some(2), "MTU {mtu}");
    }
}

#[test]
fn a_dropped_bulk_packet_is_refilled_from_the_reported_offset() {
    for mtu in [23, 247] {
        let dir = tempfile::tempdir().unwrap();
        let band = fresh_band(dir.path());
        let image = demo_blob(3);
        // The first connection pairs and sets the owner; on the second, the signed BeginUpdate takes 6 writes at
        // MTU 23 and 1 at MTU 247: write 8 is a bulk chunk either way.
        drop(Desktop::connect(&band, mtu));
        band.set_faults(Faults::none().drop_write(8));
        let mut d = Desktop::connect(&band, mtu);
        assert_eq!(d.begin_model(&image, 3).unwrap(), 0);
        d.send_chunks(&image, 0).unwrap();
        let status = d
            .request(RequestBody::UpdateStatus {
                target: UpdateTarget::Model,
            })
            .unwrap();
        let ResponseBody::UpdateStatus { next_offset, .. } = status else {
            panic!("{status:?}");
        };
        assert!(
            (next_offset as usize) < image.len(),
            "MTU {mtu}: the band noticed the gap"
        );
        assert_eq!(d.conn.stats().unwrap().dropped_writes, 1);
        // Commit before the gap is filled is refused.
        assert_eq!(
            d.request(RequestBody::CommitUpdate {
                target: UpdateTarget::Model
            })
            .unwrap(),
            ResponseBody::Error(ErrorCode::Incomplete)
        );
        d.send_chunks(&image, next_offset as usize).unwrap();
        assert_eq!(
            d.request(RequestBody::CommitUpdate {
                target: UpdateTarget::Model
            })
            .unwrap(),
            ResponseBody::Ok
        );
        assert_eq!(model_version(&mut d), Some(3));
    }
}

#[test]
fn the_uploaded_model_survives_a_restart_of_the_sim() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    upload_resuming(&band, 247, &demo_blob(4), 4);
    drop(band);
    // A new simulator on the same flash file: the fresh-band model is not used, the upload is.
    let band = SimBand::new(SimConfig::new(
        dir.path().join("band.flash"),
        Some(demo_blob(9)),
    ))
    .unwrap();
    let mut d = Desktop::connect(&band, 23);
    assert_eq!(model_version(&mut d), Some(4));
    drop(d);
    band.power_cycle().unwrap();
    let mut d = Desktop::connect(&band, 23);
    assert_eq!(model_version(&mut d), Some(4));
    assert_eq!(band.boots(), 2);
}

#[test]
fn a_power_cut_at_any_flash_write_of_an_update_leaves_a_working_model() {
    let image = demo_blob(5);
    let mut outcomes = Vec::new();
    for cut in 0.. {
        let dir = tempfile::tempdir().unwrap();
        let band = fresh_band(dir.path());
        let mut d = Desktop::connect(&band, 247);
        band.with_band(|b| b.platform_mut().flash_mut().cut_power_after(cut))
            .unwrap();
        let committed = d
            .request(support::signed_begin(UpdateTarget::Model, &image, 5))
            .and_then(|_| d.send_chunks(&image, 0))
            .and_then(|_| {
                d.request(RequestBody::CommitUpdate {
                    target: UpdateTarget::Model,
                })
            });
        let lost = band
            .with_band(|b| b.platform().flash().power_lost())
            .unwrap();
        drop(d);
        // Power comes back: the band boots from what reached the file.
        band.power_cycle().unwrap();
        let mut d = Desktop::connect(&band, 247);
        let version = model_version(&mut d);
        assert!(
            matches!(version, Some(1) | Some(5)),
            "cut after {cut} writes: model {version:?}"
        );
        // The model that runs really works: predictions come.
        d.request(RequestBody::StartPredictions).unwrap();
        d.run(70);
        assert!(!d.predictions.is_empty(), "cut after {cut} writes");
        outcomes.push(version);
        if !lost {
            assert_eq!(committed.unwrap(), ResponseBody::Ok);
            assert_eq!(version, Some(5));
            break;
        }
    }
    // Cuts before the record write keep the old model; the cut on the record's own write too (torn).
    assert!(outcomes.len() > 10, "{} cut points", outcomes.len());
    assert!(outcomes[..outcomes.len() - 1].iter().all(|v| *v == Some(1)));
}

#[test]
fn faults_hit_the_packets_they_name_at_both_mtus() {
    for mtu in [23u16, 247] {
        let dir = tempfile::tempdir().unwrap();
        let band = fresh_band(dir.path());
        // Notification 1 is the StartImu response; drop an IMU frame a few frames in.
        band.set_faults(Faults::none().drop_notification(5));
        let mut d = Desktop::connect(&band, mtu);
        d.request(RequestBody::StartImu).unwrap();
        d.run(19 * 10);
        let mut loss = LossDetector::default();
        let gaps: Vec<SeqEvent> = d
            .frames
            .iter()
            .map(|f| loss.accept(f.seq))
            .filter(|e| *e != SeqEvent::InOrder)
            .collect();
        assert_eq!(gaps, [SeqEvent::Gap { lost: 1 }], "MTU {mtu}");
        assert_eq!(d.conn.stats().unwrap().dropped_notifications, 1);

        // Packet-level rules of the link.
        let too_long = vec![0u8; usize::from(mtu) - 2];
        assert!(matches!(
            d.conn.write(BULK_UUID, &too_long, false),
            Err(SimError::TooLong { .. })
        ));
        assert!(matches!(
            d.conn.write(BULK_UUID, &[0; 8], true),
            Err(SimError::NotWritable { .. })
        ));
        assert!(matches!(
            d.conn.write(IMU_UUID, &[0; 8], true),
            Err(SimError::NotWritable { .. })
        ));
        assert!(matches!(
            d.conn.write(0x1234, &[0; 8], true),
            Err(SimError::UnknownCharacteristic(0x1234))
        ));

        // A lost write with response is not acknowledged.
        band.set_faults(Faults::none().drop_write(d.conn.stats().unwrap().writes + 1));
        assert!(matches!(
            d.conn.write(CONTROL_UUID, &[0x80, 1, 0, 0], true),
            Err(SimError::NoAck)
        ));

        // Disconnect after N bytes: the link drops, the event says so, writes fail.
        band.set_faults(Faults::none().disconnect_after_bytes(0));
        drop(d);
        let d = Desktop::connect(&band, mtu);
        let events = d.conn.events();
        assert!(matches!(
            d.conn.write(CONTROL_UUID, &[0x80, 1, 0, 0], true),
            Err(SimError::NotConnected)
        ));
        assert_eq!(
            events.try_recv(),
            Ok(LinkEvent::Disconnected(DisconnectReason::Lost))
        );
        assert!(!d.conn.is_connected());
    }
}

#[test]
fn a_reboot_request_is_answered_then_the_band_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let mut d = Desktop::connect(&band, 247);
    let events = d.conn.events();
    // The Ok goes out before the restart; the link then drops.
    assert_eq!(d.request(RequestBody::Reboot).unwrap(), ResponseBody::Ok);
    d.band.step(1).unwrap();
    assert_eq!(
        events.recv().unwrap(),
        LinkEvent::Disconnected(DisconnectReason::Lost)
    );
    assert_eq!(band.boots(), 2);
    let mut d = Desktop::connect(&band, 23);
    assert_eq!(model_version(&mut d), Some(1));
}

#[test]
fn latency_and_throughput_shape_simulated_time() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    band.set_timing(bandx_sim::LinkTiming {
        latency: std::time::Duration::from_millis(30),
        bytes_per_second: 1_000,
    });
    let d = Desktop::connect(&band, 247);
    let t0 = band.now();
    // 97 + 3 bytes at 1 kB/s = 100 ms on air, + 30 ms there + 30 ms for the acknowledgement.
    d.conn.write(CONTROL_UUID, &[0x80; 97], true).unwrap();
    assert_eq!(band.now() - t0, std::time::Duration::from_millis(160));
    // Without response: back-to-back packets queue behind each other on air.
    let t1 = band.now();
    d.conn.write(BULK_UUID, &[1; 197], false).unwrap();
    d.conn.write(BULK_UUID, &[1; 197], false).unwrap();
    assert_eq!(band.now() - t1, std::time::Duration::from_millis(400));
}

#[test]
fn the_realtime_runner_streams_without_stepping() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let conn = band.connect_paired(247).unwrap().0;
    conn.subscribe(IMU_UUID).unwrap();
    let rx = conn.notifications().unwrap();
    let _runner = band.run_realtime();
    assert!(matches!(band.step(1), Err(SimError::RealTime)));
    // StartImu, written in real time (a single unfragmented request).
    let mut buf = [0u8; 64];
    let n = bandx_core::protocol::encode_request(
        &bandx_core::protocol::Request {
            id: 1,
            body: RequestBody::StartImu,
        },
        &mut buf,
    )
    .unwrap();
    conn.write(CONTROL_UUID, &[&[0x80][..], &buf[..n]].concat(), true)
        .unwrap();
    let frame = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("an IMU frame arrives in real time");
    assert_eq!(frame.uuid(), IMU_UUID);
}

#[test]
fn a_firmware_image_lands_in_the_other_app_slot_and_is_selected_to_boot() {
    use bandx_board::partitions::{AppSlot, FlashLayout};
    use bandx_core::protocol::{BULK_HEADER_LEN, BulkChunk};

    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    // An app image for the virtual band's chip (the band refuses anything its bootloader would not start).
    let mut image = vec![0u8; 61_000];
    let len = bandx_core::demo::write_demo_app_image(
        &mut image,
        bandx_core::update::Chip::Esp32,
        60_000,
        3,
    )
    .unwrap();
    image.truncate(len);
    let mut d = Desktop::connect(&band, 247);
    let begin = d
        .request(support::signed_begin(
            UpdateTarget::Firmware,
            &image,
            support::DEMO_RELEASE,
        ))
        .unwrap();
    assert!(
        matches!(begin, ResponseBody::UpdateStatus { next_offset: 0, .. }),
        "{begin:?}"
    );
    let chunk = d.conn.max_write_len() - BULK_HEADER_LEN;
    let mut packet = vec![0u8; d.conn.max_write_len()];
    for (i, data) in image.chunks(chunk).enumerate() {
        let n = BulkChunk {
            target: UpdateTarget::Firmware,
            offset: (i * chunk) as u32,
            data,
        }
        .encode(&mut packet)
        .unwrap();
        d.conn.write(BULK_UUID, &packet[..n], false).unwrap();
    }
    assert_eq!(
        d.request(RequestBody::CommitUpdate {
            target: UpdateTarget::Firmware
        })
        .unwrap(),
        ResponseBody::Ok
    );
    drop(d);
    // Read the flash file directly: the image is in ota_1 and otadata's newest entry picks ota_1.
    let flash = std::fs::read(dir.path().join("band.flash")).unwrap();
    let layout = FlashLayout::band();
    let ota1 = layout.app_slot(AppSlot::Ota1).offset as usize;
    assert_eq!(&flash[ota1..ota1 + image.len()], &image[..]);
    let otadata = layout.otadata().offset as usize;
    let seq = u32::from_le_bytes(flash[otadata..otadata + 4].try_into().unwrap());
    assert_eq!(seq, 2, "ota_seq 2 boots ota_(2-1)%2 = ota_1");
    let ota0 = layout.app_slot(AppSlot::Ota0).offset as usize;
    assert!(
        flash[ota0..ota0 + 4096].iter().all(|&b| b == 0xFF),
        "the running slot is untouched"
    );
}

#[test]
fn board_settings_show_up_in_info_and_frames() {
    use bandx_core::imu::{AccelRange, GyroRange};
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    let fs = FullScale {
        accel: AccelRange::G4,
        gyro: GyroRange::Dps500,
    };
    band.with_band(|b| {
        b.platform_mut().set_battery_percent(37);
        b.platform_mut().set_full_scale(fs);
    })
    .unwrap();
    let mut d = Desktop::connect(&band, 23);
    assert_eq!(d.info().battery_percent, 37);
    d.request(RequestBody::StartImu).unwrap();
    // The band reads its IMU on every tick (its activity log), so the failures are planned once it streams.
    band.with_band(|b| b.platform_mut().fail_imu_reads(3))
        .unwrap();
    d.run(20);
    // Three failed reads: three ticks without a frame; the rest are at the new full scale.
    assert!((16..=18).contains(&d.frames.len()), "{}", d.frames.len());
    assert!(d.frames.iter().all(|f| f.full_scale == fs));
}
