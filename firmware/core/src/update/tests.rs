//! The receiver against a simulated NOR flash that can lose power between (or in the middle of) any two writes.
extern crate std;

use super::*;
use crate::blob::sha256;
use crate::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use crate::protocol::{BulkChunk, ErrorCode, UpdateTarget};
use crate::torn_nor::Power;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const SLOT: usize = 8 * 1024;

/// NOR flash: erase sets 0xFF, writes can only clear bits. After `power.left` mutating operations the power
/// fails: the failing write is torn (a prefix lands) and every later operation fails until `reboot`.
#[derive(Clone)]
struct SimFlash {
    slots: [Vec<u8>; 2],
    active: Option<Slot>,
    power: Power,
    firmware: Vec<u8>,
    firmware_committed: bool,
    writes: usize,
}

impl SimFlash {
    fn new() -> Self {
        SimFlash {
            slots: [vec![0xFF; SLOT], vec![0xFF; SLOT]],
            active: None,
            power: Power::default(),
            firmware: Vec::new(),
            firmware_committed: false,
            writes: 0,
        }
    }

    /// Counts one mutating operation; `Err` if the power is (now) gone (a torn write lands a prefix).
    fn spend(&mut self) -> Result<(), StorageError> {
        let whole = self.power.spend()?;
        self.writes += 1;
        if whole { Ok(()) } else { Err(StorageError) }
    }

    fn reboot(&mut self) {
        self.power.reboot();
    }

    fn idx(slot: Slot) -> usize {
        slot as usize
    }
}

impl ModelStore for SimFlash {
    fn slot_capacity(&self) -> usize {
        SLOT
    }
    fn slot(&self, slot: Slot) -> &[u8] {
        &self.slots[Self::idx(slot)]
    }
    fn erase_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        let torn = self.spend();
        let s = &mut self.slots[Self::idx(slot)];
        match torn {
            Ok(()) => s.fill(0xFF),
            // A torn erase leaves the slot half erased.
            Err(e) => {
                s[..SLOT / 2].fill(0xFF);
                return Err(e);
            }
        }
        Ok(())
    }
    fn write_slot(&mut self, slot: Slot, offset: usize, data: &[u8]) -> Result<(), StorageError> {
        let torn = self.spend();
        let n = if torn.is_ok() {
            data.len()
        } else {
            data.len() / 2
        };
        let s = &mut self.slots[Self::idx(slot)];
        for (dst, &b) in s[offset..offset + n].iter_mut().zip(data) {
            *dst &= b; // NOR: only 1 -> 0
        }
        torn
    }
    fn active_slot(&self) -> Option<Slot> {
        self.active
    }
    fn set_active_slot(&mut self, slot: Slot) -> Result<(), StorageError> {
        // Atomic by contract: either it happens or not.
        self.spend()?;
        self.active = Some(slot);
        Ok(())
    }
}

impl FirmwareSink for SimFlash {
    fn app_chip(&self) -> Chip {
        Chip::Esp32C3
    }
    fn firmware_capacity(&self) -> usize {
        64 * 1024
    }
    fn firmware_begin(&mut self, _total_len: u32) -> Result<(), StorageError> {
        self.spend()?;
        self.firmware.clear();
        self.firmware_committed = false;
        Ok(())
    }
    fn firmware_write(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        self.spend()?;
        assert_eq!(
            offset as usize,
            self.firmware.len(),
            "sink sees offsets in order without gaps"
        );
        self.firmware.extend_from_slice(data);
        Ok(())
    }
    fn firmware_commit(&mut self) -> Result<(), StorageError> {
        self.spend()?;
        self.firmware_committed = true;
        Ok(())
    }
    fn firmware_abort(&mut self) {
        self.firmware.clear();
    }
    fn running_app_digest(&mut self) -> Option<[u8; 32]> {
        None
    }
}

fn demo_blob(version: u32, seed: u32) -> Vec<u8> {
    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 5, version, seed).unwrap();
    buf[..len].to_vec()
}

fn arena() -> Vec<u8> {
    vec![0u8; 4096]
}

/// The active model's version after a (simulated) boot.
fn booted_version(flash: &SimFlash) -> Option<u32> {
    let (slot, len) = active_model(flash, &mut arena())?;
    crate::blob::Model::parse(&flash.slot(slot)[..len])
        .ok()
        .map(|m| m.version())
}

/// The slot a band booted on `flash` runs its model from.
fn running(flash: &SimFlash) -> Option<Slot> {
    active_model(flash, &mut arena()).map(|(slot, _)| slot)
}

/// `BeginUpdate` on a band booted on `flash`.
fn begin(
    rx: &mut UpdateReceiver,
    flash: &mut SimFlash,
    target: UpdateTarget,
    total_len: u32,
    sha256: [u8; 32],
    version: u32,
) -> Result<Progress, ErrorCode> {
    let running = running(flash);
    let grant = crate::owner::Grant {
        target,
        version,
        total_len,
        sha256,
        downgrade: false,
    };
    rx.begin(flash, running, &grant)
}

/// Sends a whole image in order and commits.
fn install(
    rx: &mut UpdateReceiver,
    flash: &mut SimFlash,
    target: UpdateTarget,
    image: &[u8],
    version: u32,
) -> Result<Committed, ErrorCode> {
    begin(
        rx,
        flash,
        target,
        image.len() as u32,
        sha256(image),
        version,
    )?;
    for (i, data) in image.chunks(200).enumerate() {
        let chunk = BulkChunk {
            target,
            offset: (i * 200) as u32,
            data,
        };
        if rx.chunk(flash, &chunk) == ChunkOutcome::Failed {
            return Err(ErrorCode::Storage);
        }
    }
    rx.commit(flash, target, &mut arena(), None)
}

#[test]
fn model_goes_to_the_inactive_slot_and_becomes_active_on_commit() {
    let mut flash = SimFlash::new();
    let mut rx = UpdateReceiver::new();
    let v1 = demo_blob(1, 1);
    let c = install(&mut rx, &mut flash, UpdateTarget::Model, &v1, 1).unwrap();
    assert!(matches!(
        c,
        Committed::Model {
            slot: Slot::A,
            version: 1,
            ..
        }
    ));
    assert_eq!(booted_version(&flash), Some(1));
    let v2 = demo_blob(2, 2);
    let c = install(&mut rx, &mut flash, UpdateTarget::Model, &v2, 2).unwrap();
    assert!(matches!(
        c,
        Committed::Model {
            slot: Slot::B,
            version: 2,
            ..
        }
    ));
    assert_eq!(booted_version(&flash), Some(2));
    // The next update overwrites A, never the active B.
    begin(
        &mut rx,
        &mut flash,
        UpdateTarget::Model,
        v1.len() as u32,
        sha256(&v1),
        1,
    )
    .unwrap();
    assert_eq!(booted_version(&flash), Some(2));
}

#[test]
fn commit_refuses_incomplete_wrong_digest_unparsable_and_failing_self_test() {
    let mut flash = SimFlash::new();
    let mut rx = UpdateReceiver::new();
    let good = demo_blob(1, 1);
    install(&mut rx, &mut flash, UpdateTarget::Model, &good, 1).unwrap();

    let v2 = demo_blob(2, 2);
    begin(
        &mut rx,
        &mut flash,
        UpdateTarget::Model,
        v2.len() as u32,
        sha256(&v2),
        2,
    )
    .unwrap();
    rx.chunk(
        &mut flash,
        &BulkChunk {
            target: UpdateTarget::Model,
            offset: 0,
            data: &v2[..100],
        },
    );
    assert_eq!(
        rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None),
        Err(ErrorCode::Incomplete)
    );

    // Begin again with the same image resumes at 100; sending the rest completes it.
    let p = begin(
        &mut rx,
        &mut flash,
        UpdateTarget::Model,
        v2.len() as u32,
        sha256(&v2),
        2,
    )
    .unwrap();
    assert_eq!(p.next_offset, 100);
    for (i, data) in v2[100..].chunks(200).enumerate() {
        let chunk = BulkChunk {
            target: UpdateTarget::Model,
            offset: 100 + (i * 200) as u32,
            data,
        };
        assert_eq!(rx.chunk(&mut flash, &chunk), ChunkOutcome::Accepted);
    }
    assert!(
        rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None)
            .is_ok()
    );
    assert_eq!(booted_version(&flash), Some(2));

    // Announced digest differs from the bytes.
    let mut rx = UpdateReceiver::new();
    begin(
        &mut rx,
        &mut flash,
        UpdateTarget::Model,
        v2.len() as u32,
        [0; 32],
        3,
    )
    .unwrap();
    for (i, data) in v2.chunks(200).enumerate() {
        rx.chunk(
            &mut flash,
            &BulkChunk {
                target: UpdateTarget::Model,
                offset: (i * 200) as u32,
                data,
            },
        );
    }
    assert_eq!(
        rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None),
        Err(ErrorCode::DigestMismatch)
    );
    assert_eq!(booted_version(&flash), Some(2));

    // Bytes that are not a blob.
    let junk = vec![7u8; 1000];
    assert_eq!(
        install(&mut rx, &mut flash, UpdateTarget::Model, &junk, 9),
        Err(ErrorCode::InvalidModel)
    );

    // A blob whose recorded self-test does not reproduce (expected logit changed, blob re-sealed).
    let mut bad = demo_blob(4, 4);
    let body = bad.len() - 32;
    bad[body - 1] = bad[body - 1].wrapping_add(3);
    let digest = sha256(&bad[..body]);
    bad[body..].copy_from_slice(&digest);
    assert_eq!(
        install(&mut rx, &mut flash, UpdateTarget::Model, &bad, 4),
        Err(ErrorCode::SelfTestFailed)
    );
    assert_eq!(booted_version(&flash), Some(2));

    // Too large for a slot.
    assert_eq!(
        begin(
            &mut rx,
            &mut flash,
            UpdateTarget::Model,
            SLOT as u32 + 1,
            [0; 32],
            1
        ),
        Err(ErrorCode::TooLarge)
    );
}

/// The release the demo app images declare (`demo::DEMO_APP_VERSION`).
const DEMO_RELEASE: u32 = 2_000;

fn app_image(chip: Chip, data_len: usize, seed: u32) -> Vec<u8> {
    let mut out = vec![0u8; data_len + 256];
    let len = crate::demo::write_demo_app_image(&mut out, chip, data_len, seed).unwrap();
    out.truncate(len);
    out
}

#[test]
fn firmware_streams_in_order_and_verifies_its_digest() {
    let mut flash = SimFlash::new();
    let mut rx = UpdateReceiver::new();
    let image = app_image(Chip::Esp32C3, 5000, 1);
    assert_eq!(
        install(
            &mut rx,
            &mut flash,
            UpdateTarget::Firmware,
            &image,
            DEMO_RELEASE
        ),
        Ok(Committed::Firmware {
            version: DEMO_RELEASE
        })
    );
    assert!(flash.firmware_committed);
    assert_eq!(flash.firmware, image);

    let mut rx = UpdateReceiver::new();
    begin(
        &mut rx,
        &mut flash,
        UpdateTarget::Firmware,
        image.len() as u32,
        [1; 32],
        DEMO_RELEASE,
    )
    .unwrap();
    for (i, data) in image.chunks(200).enumerate() {
        rx.chunk(
            &mut flash,
            &BulkChunk {
                target: UpdateTarget::Firmware,
                offset: (i * 200) as u32,
                data,
            },
        );
    }
    flash.firmware_committed = false;
    assert_eq!(
        rx.commit(&mut flash, UpdateTarget::Firmware, &mut arena(), None),
        Err(ErrorCode::DigestMismatch)
    );
    assert!(!flash.firmware_committed);
    assert!(
        flash.firmware.is_empty(),
        "a rejected image is dropped from the sink"
    );
}

#[derive(Debug, Clone)]
enum Link {
    /// Send the sender's next chunk.
    Next,
    /// Send chunk `i` (a duplicate or out of order).
    Chunk(usize),
    /// The sender's next chunk is lost in the air.
    Drop,
    /// The link drops: the sender asks for the status and resumes from there (re-sending begin first).
    Reconnect,
}

fn link() -> impl Strategy<Value = Link> {
    prop_oneof![
        6 => Just(Link::Next),
        2 => any::<usize>().prop_map(Link::Chunk),
        1 => Just(Link::Drop),
        1 => Just(Link::Reconnect),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random chunk order, duplicates, drops and reconnects: the sender that follows `UpdateStatus` always gets
    /// the image in, byte-exact, and the old model stays active until the commit.
    #[test]
    fn transfers_survive_a_hostile_link(events in proptest::collection::vec(link(), 0..120), chunk_len in 17usize..300) {
        let mut flash = SimFlash::new();
        let mut rx = UpdateReceiver::new();
        install(&mut rx, &mut flash, UpdateTarget::Model, &demo_blob(1, 1), 1).unwrap();
        let image = demo_blob(2, 9);
        let digest = sha256(&image);
        let chunks: Vec<(u32, &[u8])> = image.chunks(chunk_len).enumerate().map(|(i, c)| ((i * chunk_len) as u32, c)).collect();
        let send = |rx: &mut UpdateReceiver, flash: &mut SimFlash, i: usize| {
            let (offset, data) = chunks[i % chunks.len()];
            rx.chunk(flash, &BulkChunk { target: UpdateTarget::Model, offset, data })
        };
        begin(&mut rx, &mut flash, UpdateTarget::Model, image.len() as u32, digest, 2).unwrap();
        let mut cursor = 0usize;
        for e in events {
            match e {
                Link::Next => {
                    send(&mut rx, &mut flash, cursor);
                    cursor += 1;
                }
                Link::Drop => cursor += 1,
                Link::Chunk(i) => {
                    send(&mut rx, &mut flash, i);
                }
                Link::Reconnect => {
                    let p = begin(&mut rx, &mut flash, UpdateTarget::Model, image.len() as u32, digest, 2).unwrap();
                    prop_assert_eq!(p, rx.status(UpdateTarget::Model).unwrap());
                    cursor = chunks.iter().position(|(o, _)| *o >= p.next_offset).unwrap_or(chunks.len());
                }
            }
            prop_assert_eq!(booted_version(&flash), Some(1));
        }
        // Finish like a well-behaved sender: resume from the status, in order.
        let next = rx.status(UpdateTarget::Model).unwrap().next_offset;
        for (offset, data) in chunks.iter().skip_while(|(o, _)| *o < next) {
            prop_assert_eq!(rx.chunk(&mut flash, &BulkChunk { target: UpdateTarget::Model, offset: *offset, data }), ChunkOutcome::Accepted);
        }
        let committed = rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None);
        prop_assert!(matches!(committed, Ok(Committed::Model { version: 2, .. })), "{:?}", committed);
        prop_assert_eq!(booted_version(&flash), Some(2));
    }

    /// Power fails after any number of flash operations (tearing the one in flight): after the reboot the band
    /// always boots a working model, the old one or — only if the commit's record write happened — the new one.
    /// A fresh transfer then installs the new model.
    #[test]
    fn power_cut_at_any_write_leaves_a_working_model(cut_after in 0usize..60, chunk_len in 100usize..1200) {
        let mut flash = SimFlash::new();
        let mut rx = UpdateReceiver::new();
        install(&mut rx, &mut flash, UpdateTarget::Model, &demo_blob(1, 1), 1).unwrap();
        let image = demo_blob(2, 9);
        let digest = sha256(&image);

        flash.power.left = Some(cut_after);
        let mut rx = UpdateReceiver::new();
        let mut committed = false;
        if begin(&mut rx, &mut flash, UpdateTarget::Model, image.len() as u32, digest, 2).is_ok() {
            let mut ok = true;
            for (i, data) in image.chunks(chunk_len).enumerate() {
                let c = BulkChunk { target: UpdateTarget::Model, offset: (i * chunk_len) as u32, data };
                if rx.chunk(&mut flash, &c) != ChunkOutcome::Accepted {
                    ok = false;
                    break;
                }
            }
            committed = ok && rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None).is_ok();
        }
        flash.reboot();
        let booted = booted_version(&flash);
        prop_assert!(booted == Some(1) || (committed && booted == Some(2)), "booted {:?}, committed {}", booted, committed);

        // RAM state is gone after the reboot; the desktop starts over and succeeds.
        let mut rx = UpdateReceiver::new();
        if !committed {
            prop_assert_eq!(rx.status(UpdateTarget::Model), Err(ErrorCode::NoUpdate));
            install(&mut rx, &mut flash, UpdateTarget::Model, &image, 2).unwrap();
        }
        prop_assert_eq!(booted_version(&flash), Some(2));
    }
}

#[test]
fn a_wrong_chip_or_damaged_firmware_image_is_refused_and_nothing_committed() {
    let mut flash = SimFlash::new();
    let good = app_image(Chip::Esp32C3, 3000, 2);
    let mut damaged_segment = good.clone();
    damaged_segment[100] ^= 0x10;
    let mut rejects = vec![
        ("for the ESP32", app_image(Chip::Esp32, 3000, 2)),
        ("damaged segment", damaged_segment),
        ("not an app image", vec![0x5A; 3000]),
        ("cut short", good[..good.len() - 16].to_vec()),
    ];
    let mut with_trailer = good.clone();
    with_trailer.extend_from_slice(&[0; 16]);
    rejects.push(("trailing bytes", with_trailer));
    for (what, image) in rejects {
        let mut rx = UpdateReceiver::new();
        assert_eq!(
            install(
                &mut rx,
                &mut flash,
                UpdateTarget::Firmware,
                &image,
                DEMO_RELEASE
            ),
            Err(ErrorCode::InvalidFirmware),
            "{what}"
        );
        assert!(!flash.firmware_committed, "{what}");
        assert!(flash.firmware.is_empty(), "{what}: the sink dropped it");
    }
    // The release the image declares must be the one granted.
    let mut rx = UpdateReceiver::new();
    assert_eq!(
        install(
            &mut rx,
            &mut flash,
            UpdateTarget::Firmware,
            &good,
            DEMO_RELEASE + 1
        ),
        Err(ErrorCode::InvalidFirmware),
        "another release than the image's"
    );
    let mut rx = UpdateReceiver::new();
    assert_eq!(
        install(
            &mut rx,
            &mut flash,
            UpdateTarget::Firmware,
            &good,
            DEMO_RELEASE
        ),
        Ok(Committed::Firmware {
            version: DEMO_RELEASE
        })
    );
}

/// How a USB model write from outside leaves a slot it failed on.
#[derive(Debug, Clone)]
enum Garble {
    /// Erased (the desktop erases a slot whose verification failed).
    Erased,
    /// Only a prefix of the blob landed (the cable was pulled); the fraction is `n / 256`.
    Prefix(u8),
    /// The whole blob landed with one byte wrong.
    Flipped(usize),
}

/// How a BLE model update ends.
#[derive(Debug, Clone)]
enum BleEnd {
    Commit,
    Abort,
    /// The desktop goes away; the transfer stays in RAM until the next begin or reboot.
    Vanish,
    /// The power fails after `n` more flash operations (during begin's erase or a chunk), then the band boots.
    PowerCut(usize),
}

/// One thing that happens to a band.
#[derive(Debug, Clone)]
enum Event {
    /// A model written over USB (ROM loader, the band is held in reset) as the desktop does it: first into the
    /// slot the band does not run from, verified, then the other; `fail` garbles the first (`false`) or the second
    /// (`true`) slot and stops there. The band boots afterwards.
    Usb { fail: Option<(bool, Garble)> },
    /// A BLE model update of which `chunks` chunks are sent before it ends as `end`.
    Ble { chunks: usize, end: BleEnd },
    /// The band restarts.
    Reboot,
}

fn event() -> impl Strategy<Value = Event> {
    let garble = prop_oneof![
        Just(Garble::Erased),
        any::<u8>().prop_map(Garble::Prefix),
        any::<usize>().prop_map(Garble::Flipped),
    ];
    let end = prop_oneof![
        3 => Just(BleEnd::Commit),
        1 => Just(BleEnd::Abort),
        1 => Just(BleEnd::Vanish),
        2 => (0usize..40).prop_map(BleEnd::PowerCut),
    ];
    prop_oneof![
        3 => proptest::option::of((any::<bool>(), garble)).prop_map(|fail| Event::Usb { fail }),
        4 => (0usize..60, end).prop_map(|(chunks, end)| Event::Ble { chunks, end }),
        1 => Just(Event::Reboot),
    ]
}

/// The band as the receiver sees it: the slot it runs from (found at boot) and its RAM transfer state.
struct Booted {
    running: Option<Slot>,
    rx: UpdateReceiver,
}

impl Booted {
    fn boot(flash: &mut SimFlash) -> Booted {
        flash.reboot();
        Booted {
            running: running(flash),
            rx: UpdateReceiver::new(),
        }
    }
}

/// A USB write of `blob` into `slot`, as the ROM loader leaves it (erase, program), possibly garbled.
fn usb_write(flash: &mut SimFlash, slot: Slot, blob: &[u8], garble: Option<&Garble>) {
    let s = &mut flash.slots[slot as usize];
    s.fill(0xFF);
    match garble {
        None => s[..blob.len()].copy_from_slice(blob),
        Some(Garble::Erased) => {}
        Some(Garble::Prefix(n)) => {
            let len = blob.len() * *n as usize / 256;
            s[..len].copy_from_slice(&blob[..len]);
        }
        Some(Garble::Flipped(i)) => {
            s[..blob.len()].copy_from_slice(blob);
            s[i % blob.len()] ^= 0x20;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Failed USB writes, BLE updates, aborts, vanished desktops and power cuts in any order: no update ever
    /// erases the slot the band runs from, so at every instant a model boots.
    #[test]
    fn a_model_always_boots(first_over_usb in any::<bool>(), events in proptest::collection::vec(event(), 1..14)) {
        let blobs: Vec<Vec<u8>> = (1..=3).map(|v| demo_blob(v, v)).collect();
        let mut flash = SimFlash::new();
        let mut band = Booted::boot(&mut flash);
        if first_over_usb {
            // Over USB into both slots: no active-slot record is ever written.
            usb_write(&mut flash, Slot::A, &blobs[0], None);
            usb_write(&mut flash, Slot::B, &blobs[0], None);
        } else {
            install(&mut band.rx, &mut flash, UpdateTarget::Model, &blobs[0], 1).unwrap();
        }
        band = Booted::boot(&mut flash);
        prop_assert!(booted_version(&flash).is_some(), "the first model boots");
        for (n, e) in events.iter().enumerate() {
            let blob = &blobs[(n + 1) % blobs.len()];
            match e {
                Event::Usb { fail } => {
                    let first = band.running.map_or(Slot::A, Slot::other);
                    let garble = |second: bool| fail.as_ref().filter(|(s, _)| *s == second).map(|(_, g)| g);
                    usb_write(&mut flash, first, blob, garble(false));
                    if garble(false).is_none() {
                        usb_write(&mut flash, first.other(), blob, garble(true));
                    }
                    band = Booted::boot(&mut flash);
                }
                Event::Ble { chunks, end } => {
                    if let BleEnd::PowerCut(after) = end {
                        flash.power.left = Some(*after);
                    }
                    let digest = sha256(blob);
                    let version = 10 + n as u32;
                    let grant = crate::owner::Grant {
                        target: UpdateTarget::Model,
                        version,
                        total_len: blob.len() as u32,
                        sha256: digest,
                        downgrade: false,
                    };
                    let began = band.rx.begin(&mut flash, band.running, &grant);
                    if began.is_ok() {
                        for (i, data) in blob.chunks(200).take(*chunks).enumerate() {
                            let chunk = BulkChunk { target: UpdateTarget::Model, offset: (i * 200) as u32, data };
                            band.rx.chunk(&mut flash, &chunk);
                        }
                    }
                    match end {
                        BleEnd::Commit => {
                            if let Ok(Committed::Model { slot, .. }) = band.rx.commit(&mut flash, UpdateTarget::Model, &mut arena(), None) {
                                band.running = Some(slot);
                                let blob_version = crate::blob::Model::parse(blob).unwrap().version();
                                prop_assert_eq!(booted_version(&flash), Some(blob_version));
                            }
                        }
                        BleEnd::Abort => band.rx.abort(&mut flash, UpdateTarget::Model),
                        BleEnd::Vanish => {}
                        BleEnd::PowerCut(_) => band = Booted::boot(&mut flash),
                    }
                }
                Event::Reboot => band = Booted::boot(&mut flash),
            }
            prop_assert!(booted_version(&flash).is_some(), "no model boots after {:?}", &events[..=n]);
        }
    }
}
