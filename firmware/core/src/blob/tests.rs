extern crate std;

use super::*;
use crate::demo::{DEMO_BLOB_CAPACITY, DEMO_LABELS, write_demo_model};
use proptest::prelude::*;
use std::vec::Vec;

fn demo() -> Vec<u8> {
    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 0xC0FFEE, 7, 3).unwrap();
    buf[..len].to_vec()
}

/// Recomputes the trailing digest so a deliberately corrupted body reaches the structural checks.
fn reseal(blob: &mut [u8]) {
    let body = blob.len() - DIGEST_LEN;
    let digest = sha256(&blob[..body]);
    blob[body..].copy_from_slice(&digest);
}

const LABELS_AT: usize = HEADER_LEN;

fn input_spec_at(blob: &[u8]) -> usize {
    let mut pos = LABELS_AT + 1;
    for _ in 0..blob[LABELS_AT] {
        pos += 1 + blob[pos] as usize;
    }
    pos
}

#[test]
fn header_labels_and_input_spec_round_trip() {
    let blob = demo();
    let model = Model::parse(&blob).unwrap();
    assert_eq!(model.id(), 0xC0FFEE);
    assert_eq!(model.version(), 7);
    assert!(model.labels().iter().eq(DEMO_LABELS.iter().copied()));
    assert_eq!(model.labels().get(4), Some("stairs"));
    assert_eq!(model.labels().get(7), None);
    assert_eq!(model.input_spec().mean[2], 9.81);
    assert_eq!(model.layers().len(), 7);
    assert_eq!(model.digest(), sha256(&blob[..blob.len() - 32]));
    assert_eq!(model.arena_size(), model.required_arena());
}

#[test]
fn demo_model_figures_follow_from_its_architecture() {
    let blob = demo();
    let model = Model::parse(&blob).unwrap();
    // conv1: 60 * 16 * 5 * 6, conv2: 30 * 32 * 5 * 16, conv3: 15 * 32 * 3 * 32, dense: 32 * 7.
    assert_eq!(model.macs(), 28_800 + 76_800 + 46_080 + 224);
    // Largest input + output pair: conv1 (2 * 360 + 960: the input is int16) vs pool1 (960 + 480)
    // vs conv2 (480 + 960).
    assert_eq!(model.required_arena(), 1680);
}

#[test]
fn every_truncation_is_a_typed_error() {
    let blob = demo();
    for len in 0..blob.len() {
        let err = Model::parse(&blob[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                BlobError::Truncated { .. } | BlobError::LengthMismatch { .. }
            ),
            "len {len}: {err:?}"
        );
    }
}

#[test]
fn any_flipped_byte_is_caught() {
    let blob = demo();
    for i in (0..blob.len()).step_by(7) {
        let mut bad = blob.clone();
        bad[i] ^= 0x10;
        assert!(Model::parse(&bad).is_err(), "flip at {i} accepted");
    }
}

#[test]
fn header_errors_are_specific() {
    let blob = demo();
    let mut bad = blob.clone();
    bad[0] = b'X';
    assert_eq!(Model::parse(&bad), Err(BlobError::BadMagic));
    let mut bad = blob.clone();
    bad[4] = 1; // version 1 blobs rounded the pooled embedding before the head
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::UnsupportedVersion { found: 1 })
    );
    let mut bad = blob.clone();
    bad.push(0);
    assert!(matches!(
        Model::parse(&bad),
        Err(BlobError::LengthMismatch { .. })
    ));
    let mut bad = blob.clone();
    bad[100] ^= 1;
    assert_eq!(Model::parse(&bad), Err(BlobError::DigestMismatch));
    let mut bad = blob.clone();
    bad[20..24].copy_from_slice(&100u32.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::ArenaTooSmall {
            declared: 100,
            required: 1680
        })
    );
}

#[test]
fn section_errors_are_specific() {
    let blob = demo();
    let mut bad = blob.clone();
    bad[LABELS_AT + 2] = 0xFF; // first byte of "walk"
    reseal(&mut bad);
    assert_eq!(Model::parse(&bad), Err(BlobError::BadLabel { index: 0 }));

    let mut bad = blob.clone();
    bad[LABELS_AT] = 0;
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::BadClassCount { count: 0 })
    );

    let spec = input_spec_at(&blob);
    let mut bad = blob.clone();
    bad[spec] = 50;
    reseal(&mut bad);
    assert!(matches!(
        Model::parse(&bad),
        Err(BlobError::UnsupportedInput { window_len: 50, .. })
    ));

    let mut bad = blob.clone();
    bad[spec + 4 + 24..spec + 4 + 28].copy_from_slice(&(-1.0f32).to_le_bytes()); // std[0]
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::BadNormalization { channel: 0 })
    );

    let layers_at = spec + 60;
    let mut bad = blob.clone();
    bad[layers_at + 1] = 9; // tag of layer 0
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::UnknownLayer { index: 0, tag: 9 })
    );

    let mut bad = blob.clone();
    bad[layers_at + 2] = 5; // conv1 in_channels 5: the record is misread from there on, but caught in layer 0
    reseal(&mut bad);
    assert!(matches!(
        Model::parse(&bad),
        Err(BlobError::BadLayer { index: 0, .. })
    ));

    let mut bad = blob.clone();
    bad[layers_at + 7] = 5; // conv1 padding 5 with kernel 5
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::BadLayer {
            index: 0,
            fault: LayerFault::PaddingTooLarge
        })
    );

    let mut bad = blob.clone();
    bad[layers_at + 8] = 0x05; // conv1 flags: reserved bit 2 set
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::ReservedNotZero {
            offset: layers_at + 8
        })
    );

    // Bit 1 makes conv1's output int16: twice the bytes through pool1, more than the blob declares.
    let mut bad = blob.clone();
    bad[layers_at + 8] = 0x03;
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::ArenaTooSmall {
            declared: 1680,
            required: 1920 + 960
        })
    );

    let mut bad = blob.clone();
    let body = bad.len() - DIGEST_LEN;
    bad.insert(body, 0);
    let total = bad.len() as u32;
    bad[16..20].copy_from_slice(&total.to_le_bytes());
    reseal(&mut bad);
    assert_eq!(
        Model::parse(&bad),
        Err(BlobError::TrailingBytes { offset: body })
    );

    let mut bad = blob.clone();
    bad[body - 9] = 7; // self-test class 7 of 7 classes (then count and 7 logits)
    reseal(&mut bad);
    assert_eq!(Model::parse(&bad).err(), Some(BlobError::BadSelfTest));
}

#[test]
fn writer_enforces_order_shapes_and_capacity() {
    let mut buf = [0u8; 4096];
    let mut w = BlobWriter::new(&mut buf, 1, 1).unwrap();
    assert_eq!(
        w.global_avg_pool(),
        Err(BlobError::OutOfOrder {
            expected: Section::Labels
        })
    );
    assert_eq!(w.labels(&[""]), Err(BlobError::BadLabel { index: 0 }));
    assert_eq!(
        w.labels(&["x"; MAX_CLASSES + 1]),
        Err(BlobError::BadClassCount { count: 25 })
    );
    w.labels(&["a", "b"]).unwrap();
    w.input_spec(&InputSpec {
        mean: [0.0; 6],
        std: [1.0; 6],
        scale: 0.1,
        zero_point: 0,
    })
    .unwrap();
    let spec = FilterSpec {
        in_channels: 5,
        out_channels: 2,
        kernel: 1,
        relu: false,
        weights: &[0; 10],
        bias: &[0; 2],
        multiplier: &[1 << 30; 2],
        shift: &[0; 2],
        out_zero_point: 0,
        out_scale: 1.0,
    };
    assert!(matches!(
        w.conv1d(0, &spec),
        Err(BlobError::BadLayer {
            index: 0,
            fault: LayerFault::ChannelMismatch { .. }
        })
    ));
    assert_eq!(
        w.dense(&FilterSpec {
            in_channels: 6,
            weights: &[0; 12],
            ..spec
        }),
        Err(BlobError::BadLayer {
            index: 0,
            fault: LayerFault::NotFlat
        })
    );
    assert!(matches!(
        w.conv1d(
            0,
            &FilterSpec {
                weights: &[0; 3],
                ..spec
            }
        ),
        Err(BlobError::InvalidArgument(_))
    ));
    // Only a convolution reads the int16 input.
    assert_eq!(
        w.global_avg_pool(),
        Err(BlobError::BadLayer {
            index: 0,
            fault: LayerFault::WideInput
        })
    );
    w.conv1d(
        0,
        &FilterSpec {
            in_channels: 6,
            out_channels: 6,
            weights: &[0; 36],
            bias: &[0; 6],
            multiplier: &[1 << 30; 6],
            shift: &[0; 6],
            ..spec
        },
    )
    .unwrap();
    w.global_avg_pool().unwrap();
    // A model whose output is not the logits cannot get a self-test.
    assert_eq!(
        w.self_test(&[0; INPUT_LEN], 0, &[0, 0]),
        Err(BlobError::OutputNotLogits)
    );
    w.dense(&FilterSpec {
        in_channels: 6,
        weights: &[0; 12],
        ..spec
    })
    .unwrap();
    assert_eq!(
        w.self_test(&[0; INPUT_LEN], 2, &[0, 0]),
        Err(BlobError::BadSelfTest)
    );
    w.self_test(&[0; INPUT_LEN], 0, &[0, 0]).unwrap();
    let len = w.finish().unwrap();
    assert!(Model::parse(&buf[..len]).is_ok());

    let mut small = [0u8; 64];
    let mut w = BlobWriter::new(&mut small, 1, 1).unwrap();
    w.labels(&["a", "b"]).unwrap();
    assert!(matches!(
        w.input_spec(&InputSpec {
            mean: [0.0; 6],
            std: [1.0; 6],
            scale: 0.1,
            zero_point: 0
        }),
        Err(BlobError::BufferTooSmall { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random bytes never panic the parser.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Model::parse(&bytes);
    }

    /// Mutated valid blobs, re-sealed so they pass the digest, never panic and never run off the end.
    #[test]
    fn resealed_mutations_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut blob = demo();
        for (at, v) in edits {
            let body = blob.len() - DIGEST_LEN;
            blob[at % body] = v;
        }
        reseal(&mut blob);
        if let Ok(model) = Model::parse(&blob) {
            // Anything that parses must also run safely.
            let mut arena = std::vec![0u8; model.required_arena()];
            let _ = model.self_test(&mut arena);
            let _ = model.labels().iter().count();
        }
        let cut = cut % blob.len();
        let _ = Model::parse(&blob[..cut]);
    }
}
