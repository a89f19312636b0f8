extern crate std;

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn target() -> impl Strategy<Value = UpdateTarget> {
    prop_oneof![Just(UpdateTarget::Model), Just(UpdateTarget::Firmware)]
}

/// Every request of [`ALL_REQUESTS`], with its fields drawn at random.
fn request_body() -> impl Strategy<Value = RequestBody> {
    (
        proptest::sample::select(ALL_REQUESTS.to_vec()),
        target(),
        any::<u32>(),
        any::<[u8; 32]>(),
        any::<u32>(),
    )
        .prop_map(|(kind, target, total_len, sha256, version)| match kind {
            RequestBody::BeginUpdate { .. } => RequestBody::BeginUpdate {
                target,
                total_len,
                sha256,
                version,
                downgrade: version % 2 == 0,
                signature: SignatureBytes {
                    r: sha256,
                    s: [version as u8; 32],
                },
            },
            RequestBody::SetOwner { .. } => RequestBody::SetOwner { public_key: sha256 },
            RequestBody::UpdateStatus { .. } => RequestBody::UpdateStatus { target },
            RequestBody::CommitUpdate { .. } => RequestBody::CommitUpdate { target },
            RequestBody::AbortUpdate { .. } => RequestBody::AbortUpdate { target },
            fieldless => fieldless,
        })
}

#[test]
fn the_request_list_is_in_wire_order_with_unique_names() {
    for (index, body) in ALL_REQUESTS.iter().enumerate() {
        let mut buf = [0u8; 256];
        let bytes = postcard::to_slice(body, &mut buf).unwrap();
        let (variant, _) = postcard::take_from_bytes::<u32>(bytes).unwrap();
        assert_eq!(variant as usize, index, "{}", body.name());
        let same_name = ALL_REQUESTS.iter().filter(|b| b.name() == body.name());
        assert_eq!(same_name.count(), 1, "{}", body.name());
    }
}

fn info() -> impl Strategy<Value = Info> {
    (
        "[a-z0-9.]{0,16}",
        proptest::option::of((
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec("[a-zé ]{1,12}", 1..=16),
        )),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(fw, model, battery, streaming)| Info {
            firmware_version: heapless::String::try_from(fw.as_str()).unwrap(),
            protocol_version: PROTOCOL_VERSION,
            model: model.map(|(id, version, labels)| ModelInfo {
                id,
                version,
                labels: labels
                    .iter()
                    .map(|l| heapless::String::try_from(l.as_str()).unwrap())
                    .collect(),
            }),
            battery_percent: battery,
            sample_rate_hz: 20,
            frame_capacity: 19,
            imu_streaming: streaming,
            predicting: !streaming,
            firmware_release: battery as u32 * 1_001,
            owner: streaming.then_some([battery; 8]),
        })
}

fn response_body() -> impl Strategy<Value = ResponseBody> {
    prop_oneof![
        Just(ResponseBody::Ok),
        info().prop_map(ResponseBody::Info),
        (target(), any::<u32>(), any::<u32>()).prop_map(|(target, next_offset, total_len)| {
            ResponseBody::UpdateStatus {
                target,
                next_offset,
                total_len,
            }
        }),
        Just(ResponseBody::Error(ErrorCode::DigestMismatch)),
        any::<u8>()
            .prop_map(|supported| ResponseBody::Error(ErrorCode::UnsupportedVersion { supported })),
        Just(ResponseBody::Error(ErrorCode::NoLog)),
        log_chunk().prop_map(ResponseBody::Log),
    ]
}

fn log_chunk() -> impl Strategy<Value = LogChunk> {
    let record = (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        proptest::option::of(any::<u64>()),
        any::<u32>(),
        any::<[u8; 5]>(),
    )
        .prop_map(|(seq, boot, minute, unix_ms, model_version, b)| LogRecord {
            seq,
            boot,
            minute,
            unix_ms,
            model_version,
            class: b[0],
            dominant: b[1],
            windows: b[2],
            confidence_pct: b[3],
            flags: b[4],
        });
    (
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(record, 0..8),
    )
        .prop_map(|(oldest_seq, next_seq, records)| LogChunk {
            oldest_seq,
            next_seq,
            records: records.into_iter().collect(),
        })
}

/// Sends `message` through fragments of `payload` bytes and reassembles it.
fn through_fragments(message: &[u8], payload: usize) -> Vec<u8> {
    let mut r = Reassembler::new();
    let mut out = None;
    for (header, data) in fragments(message, payload) {
        let mut packet = Vec::from([header]);
        packet.extend_from_slice(data);
        assert!(packet.len() <= payload);
        if let Some(m) = r.push(&packet).unwrap() {
            out = Some(m.to_vec());
        }
    }
    out.expect("last fragment")
}

#[test]
fn uuid_strings_spell_the_numbers() {
    for (text, value) in [
        (SERVICE_UUID_STR, SERVICE_UUID),
        (IMU_UUID_STR, IMU_UUID),
        (PREDICTIONS_UUID_STR, PREDICTIONS_UUID),
        (CONTROL_UUID_STR, CONTROL_UUID),
        (BULK_UUID_STR, BULK_UUID),
    ] {
        let hex = std::format!("{value:032x}");
        let canonical = std::format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        assert_eq!(text, canonical);
    }
}

#[test]
fn uuids_are_the_contract() {
    assert_eq!(SERVICE_UUID, 0xb7a1d000_7c2e_4f6a_9b1d_3e5f0ba9d0c0);
    assert_eq!(
        Characteristic::from_uuid(0xb7a1d003_7c2e_4f6a_9b1d_3e5f0ba9d0c0),
        Some(Characteristic::Control)
    );
    assert_eq!(
        Characteristic::Bulk.uuid(),
        0xb7a1d004_7c2e_4f6a_9b1d_3e5f0ba9d0c0
    );
    assert_eq!(Characteristic::from_uuid(SERVICE_UUID), None);
}

#[test]
fn a_response_in_another_version_says_which_one_the_band_speaks() {
    let mut buf = [0u8; 64];
    let n = encode_response(
        &Response {
            id: 1,
            body: ResponseBody::Ok,
        },
        &mut buf,
    )
    .unwrap();
    buf[0] = 1;
    assert_eq!(
        decode_response(&buf[..n]).unwrap_err().code,
        ErrorCode::UnsupportedVersion { supported: 1 }
    );
}

#[test]
fn unknown_version_request_and_garbage_get_specific_errors() {
    let mut buf = [0u8; 64];
    let n = encode_request(
        &Request {
            id: 7,
            body: RequestBody::GetInfo,
        },
        &mut buf,
    )
    .unwrap();
    // A version-1 desktop (and a newer one) is told which version the band speaks.
    for old_or_new in [1, 3] {
        buf[0] = old_or_new;
        assert_eq!(
            decode_request(&buf[..n]).unwrap_err().code,
            ErrorCode::UnsupportedVersion {
                supported: PROTOCOL_VERSION
            }
        );
    }
    // id 7 (varint 0x07), then a variant past the last: a request from a newer desktop.
    assert_eq!(
        decode_request(&[PROTOCOL_VERSION, 7, ALL_REQUESTS.len() as u8]),
        Err(DecodeError {
            id: 7,
            code: ErrorCode::UnknownRequest
        })
    );
    // BeginUpdate cut short keeps its id.
    assert_eq!(
        decode_request(&[PROTOCOL_VERSION, 9, 5, 0, 1]),
        Err(DecodeError {
            id: 9,
            code: ErrorCode::Malformed
        })
    );
    assert_eq!(
        decode_request(&[]),
        Err(DecodeError {
            id: 0,
            code: ErrorCode::Malformed
        })
    );
    // Trailing bytes are malformed too.
    assert_eq!(
        decode_request(&[PROTOCOL_VERSION, 3, 0, 0]),
        Err(DecodeError {
            id: 3,
            code: ErrorCode::Malformed
        })
    );
}

#[test]
fn bulk_chunks_round_trip_and_reject_garbage() {
    let chunk = BulkChunk {
        target: UpdateTarget::Firmware,
        offset: 0x0102_0304,
        data: &[9, 8, 7],
    };
    let mut buf = [0u8; 16];
    let n = chunk.encode(&mut buf).unwrap();
    assert_eq!(&buf[..n], &[1, 4, 3, 2, 1, 9, 8, 7]);
    assert_eq!(BulkChunk::decode(&buf[..n]), Ok(chunk));
    assert_eq!(
        BulkChunk::decode(&[0, 0, 0, 0, 0]),
        Err(BulkError::Truncated)
    );
    assert_eq!(
        BulkChunk::decode(&[2, 0, 0, 0, 0, 1]),
        Err(BulkError::BadTarget(2))
    );
}

#[test]
fn largest_info_fits_a_message_and_prediction_fits_mtu_23() {
    let label = heapless::String::try_from("x".repeat(LABEL_CAPACITY).as_str()).unwrap();
    let info = Info {
        firmware_version: heapless::String::try_from("0123456789abcdef").unwrap(),
        protocol_version: 1,
        model: Some(ModelInfo {
            id: u32::MAX,
            version: u32::MAX,
            labels: (0..crate::blob::MAX_CLASSES)
                .map(|_| label.clone())
                .collect(),
        }),
        battery_percent: 100,
        sample_rate_hz: 20,
        frame_capacity: 19,
        imu_streaming: true,
        predicting: true,
        firmware_release: u32::MAX,
        owner: Some([0xFF; 8]),
    };
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    let len = encode_response(
        &Response {
            id: u16::MAX,
            body: ResponseBody::Info(info),
        },
        &mut buf,
    )
    .unwrap();
    // At MTU 23 (20-byte packets) it must still fit the 7-bit fragment index.
    assert!(fragments(&buf[..len], 20).count() <= 128);
    let event = PredictionEvent {
        window_seq: u32::MAX,
        timestamp_ms: u32::MAX,
        class: 255,
        confidence_permille: 1000,
    };
    let mut small = [0u8; PredictionEvent::MAX_LEN];
    let n = event.encode(&mut small).unwrap();
    assert_eq!(PredictionEvent::decode(&small[..n]), Ok(event));
}

#[test]
fn out_of_sequence_fragments_drop_the_partial_message() {
    let mut r = Reassembler::new();
    assert_eq!(r.push(&[0, 1, 2]), Ok(None));
    assert_eq!(
        r.push(&[2, 3]),
        Err(FragmentError::OutOfSequence {
            expected: 1,
            got: 2
        })
    );
    assert_eq!(r.push(&[]), Err(FragmentError::Empty));
    // A fresh message still gets through.
    assert_eq!(r.push(&[0x80, 5]), Ok(Some(&[5u8][..])));
    let mut r = Reassembler::new();
    // Exactly MAX_MESSAGE_LEN bytes are accepted, one more is too long.
    let big = [0u8; 128];
    let full = (MAX_MESSAGE_LEN / big.len()) as u8;
    assert_eq!(MAX_MESSAGE_LEN % big.len(), 0);
    for i in 0..full {
        assert_eq!(r.push(&[&[i][..], &big[..]].concat()), Ok(None));
    }
    assert_eq!(r.push(&[full, 0]), Err(FragmentError::TooLong));
}

proptest! {
    #[test]
    fn requests_round_trip_through_fragments(id in any::<u16>(), body in request_body(), mtu in 23u16..=247) {
        let request = Request { id, body };
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = encode_request(&request, &mut buf).unwrap();
        let bytes = through_fragments(&buf[..n], att_payload(mtu));
        prop_assert_eq!(decode_request(&bytes), Ok(request));
    }

    #[test]
    fn responses_round_trip_through_fragments(id in any::<u16>(), body in response_body(), mtu in 23u16..=247) {
        let response = Response { id, body };
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = encode_response(&response, &mut buf).unwrap();
        let bytes = through_fragments(&buf[..n], att_payload(mtu));
        prop_assert_eq!(decode_response(&bytes), Ok(response));
    }

    #[test]
    fn prediction_events_round_trip(w in any::<u32>(), t in any::<u32>(), class in any::<u8>(), c in 0u16..=1000) {
        let event = PredictionEvent { window_seq: w, timestamp_ms: t, class, confidence_permille: c };
        let mut buf = [0u8; PredictionEvent::MAX_LEN];
        let n = event.encode(&mut buf).unwrap();
        prop_assert_eq!(PredictionEvent::decode(&buf[..n]), Ok(event));
    }

    /// Random and mutated bytes never panic any decoder.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), id in any::<u16>(), body in request_body(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        let _ = BulkChunk::decode(&bytes);
        let _ = PredictionEvent::decode(&bytes);
        let mut r = Reassembler::new();
        for chunk in bytes.chunks(20) {
            let _ = r.push(chunk);
        }
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = encode_request(&Request { id, body }, &mut buf).unwrap();
        let mut msg = buf[..n].to_vec();
        for (at, v) in flips {
            let i = at % msg.len();
            msg[i] = v;
        }
        let _ = decode_request(&msg);
    }
}

#[test]
fn each_characteristic_finds_its_own_table_entry() {
    for c in Characteristic::ALL {
        assert_eq!(c.spec().role, c);
        assert_eq!(Characteristic::from_uuid(c.uuid()), Some(c));
    }
}

#[test]
fn the_gatt_table_is_the_one_protocol_md_documents() {
    // PROTOCOL.md's table rows: `| role | UUID | properties | security | content |`.
    let doc = include_str!("../../PROTOCOL.md");
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("b7a1d0"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 1 + gatt::SERVICE.characteristics.len());
    assert_eq!(rows[0][1], "service");
    assert_eq!(rows[0][2], std::format!("`{}`", gatt::SERVICE.uuid_str));
    for (row, spec) in rows[1..].iter().zip(&gatt::SERVICE.characteristics) {
        let role = std::format!("{:?}", spec.role).to_lowercase();
        assert_eq!(row[1], role);
        assert_eq!(row[2], std::format!("`{}`", spec.uuid_str));
        let p = spec.properties;
        let words: Vec<&str> = [
            (p.read, "read"),
            (p.write, "write (with response)"),
            (p.write_without_response, "write without response"),
            (p.notify, "notify"),
        ]
        .into_iter()
        .filter_map(|(on, word)| on.then_some(word))
        .collect();
        assert_eq!(row[3], words.join(", "), "{role}");
        let security = match spec.security {
            gatt::Security::Open => "open",
            gatt::Security::AuthenticatedEncryption => "authenticated",
        };
        assert_eq!(row[4], security, "{role}");
    }
}

#[test]
fn property_bits_are_the_gatt_declaration_bits() {
    let bits: Vec<u8> = gatt::SERVICE
        .characteristics
        .iter()
        .map(|c| c.properties.bits())
        .collect();
    // notify 0x10; write 0x08 | notify; write without response 0x04.
    assert_eq!(bits, [0x10, 0x10, 0x18, 0x04]);
}
