//! The partition table: the shipped one validates, and malformed or overlapping tables are specific errors.

use super::*;

const HEADER: &str = "# Name, Type, SubType, Offset, Size, Flags\n";
const BASE: &str = "\
nvs,      data, nvs,   0x9000,   0x4000,
otadata,  data, ota,   0xd000,   0x2000,
phy_init, data, phy,   0xf000,   0x1000,
ota_0,    app,  ota_0, 0x10000,  0x1D0000,
ota_1,    app,  ota_1, 0x1E0000, 0x1D0000,
keys,     data, 0x06,  0x3B0000, 0x10000,
";

fn table(models: &str) -> String {
    format!("{HEADER}{BASE}{models}")
}

#[test]
fn shipped_table_is_a_valid_band_layout() {
    let layout = FlashLayout::parse(PARTITIONS_CSV).unwrap();
    let a = layout.model_slot(Slot::A);
    let b = layout.model_slot(Slot::B);
    // data / undefined: what the ESP32 glue looks the slots up by (with their labels).
    assert_eq!((a.ty, a.subtype, a.size), (0x01, 0x06, 0x10000));
    assert_eq!((b.ty, b.subtype, b.size), (0x01, 0x06, 0x10000));
    assert!(layout.app_slot(AppSlot::Ota0).size >= 0x18_0000);
    assert!(layout.app_slot(AppSlot::Ota1).size >= 0x18_0000);
    assert_eq!(layout.app_slot(AppSlot::Ota0).offset % 0x10000, 0);
    assert_eq!(layout.app_slot(AppSlot::Ota1).offset % 0x10000, 0);
    assert_eq!(layout.otadata().size, 0x2000);
    // The activity log: the last 64 KB, 16 sectors, which bandx-core's ring fills to >= 7 days.
    let log = layout.log().expect("the shipped table has a log partition");
    assert_eq!(
        (log.ty, log.subtype, log.offset, log.size),
        (0x01, 0x06, 0x3F_0000, 0x1_0000)
    );
    assert_eq!(log.end(), FLASH_SIZE);
    assert_eq!(log.size / SECTOR_SIZE, bandx_core::log::MAX_SECTORS as u32);
    assert_eq!(SECTOR_SIZE, bandx_core::log::LOG_SECTOR);
    const { assert!(bandx_core::log::MIN_CAPACITY_RECORDS >= 7 * 24 * 60) };
    let last_end = layout
        .partitions()
        .iter()
        .map(Partition::end)
        .max()
        .unwrap();
    assert!(last_end <= FLASH_SIZE);
}

#[test]
fn shipped_table_offsets_match_the_csv_text() {
    // Independent of esp-idf-part: read the offsets straight from the text.
    let layout = FlashLayout::band();
    for line in PARTITIONS_CSV
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
    {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 5 {
            continue;
        }
        let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
        let p = layout.get(cols[0]).unwrap();
        assert_eq!(
            (p.offset, p.size),
            (hex(cols[3]), hex(cols[4])),
            "{}",
            cols[0]
        );
    }
}

#[test]
fn slot_lookups_name_distinct_regions() {
    let layout = FlashLayout::band();
    assert_ne!(layout.model_slot(Slot::A), layout.model_slot(Slot::B));
    assert_eq!(Slot::A.other(), Slot::B);
    assert_eq!(AppSlot::Ota1.other(), AppSlot::Ota0);
    assert_eq!(layout.app_slot(AppSlot::Ota0).name, "ota_0");
    assert!(layout.get("no_such_partition").is_none());
}

#[test]
fn rejects_a_table_past_4_mb() {
    let csv =
        table("model_a, 0x40, 0x00, 0x3D0000, 0x10000,\nmodel_b, 0x40, 0x01, 0x3F8000, 0x10000,\n");
    assert!(matches!(
        FlashLayout::parse(&csv),
        Err(LayoutError::BeyondFlash { name, .. }) if name == "model_b"
    ));
}

#[test]
fn rejects_overlapping_partitions() {
    let csv =
        table("model_a, 0x40, 0x00, 0x3D0000, 0x10000,\nmodel_b, 0x40, 0x01, 0x3D8000, 0x10000,\n");
    let err = FlashLayout::parse(&csv).unwrap_err();
    // esp-idf-part may catch it first; either way it is reported as an overlap.
    let text = err.to_string();
    assert!(
        text.contains("model_a") && text.contains("model_b"),
        "{text}"
    );
    assert!(text.contains("overlap"), "{text}");
}

#[test]
fn a_log_partition_is_optional_but_not_too_small() {
    let models = "model_a, data, undefined, 0x3D0000, 0x10000,\nmodel_b, data, undefined, 0x3E0000, 0x10000,\n";
    let without = FlashLayout::parse(&table(models)).unwrap();
    assert!(without.log().is_none());
    let tiny = table(&format!(
        "{models}log, data, undefined, 0x3F0000, 0x1000,\n"
    ));
    assert!(matches!(
        FlashLayout::parse(&tiny),
        Err(LayoutError::TooSmall { name, .. }) if name == "log"
    ));
}

#[test]
fn rejects_a_missing_model_slot() {
    let csv = table("model_a, 0x40, 0x00, 0x3D0000, 0x10000,\n");
    assert_eq!(
        FlashLayout::parse(&csv),
        Err(LayoutError::Missing("model_b"))
    );
}

#[test]
fn rejects_a_model_slot_too_small() {
    let csv =
        table("model_a, 0x40, 0x00, 0x3D0000, 0x8000,\nmodel_b, 0x40, 0x01, 0x3E0000, 0x10000,\n");
    assert!(matches!(
        FlashLayout::parse(&csv),
        Err(LayoutError::TooSmall { name, size: 0x8000, .. }) if name == "model_a"
    ));
}

#[test]
fn rejects_unaligned_and_bootloader_regions() {
    let csv =
        table("model_a, 0x40, 0x00, 0x3D0000, 0x10000,\nmodel_b, 0x40, 0x01, 0x3E0800, 0x10000,\n");
    assert!(matches!(
        FlashLayout::parse(&csv),
        Err(LayoutError::Unaligned { .. })
    ));
    let csv =
        table("model_a, 0x40, 0x00, 0x3000, 0x1000,\nmodel_b, 0x40, 0x01, 0x3E0000, 0x10000,\n");
    assert!(matches!(
        FlashLayout::parse(&csv),
        Err(LayoutError::OverBootloader { .. })
    ));
}

#[test]
fn malformed_tables_are_errors_not_panics() {
    for csv in [
        "",
        "garbage",
        "nvs, data, nvs, zz, 0x4000,",
        // A numeric data subtype esp-idf-part has no name for (it would panic inside).
        "nvs, data, 0x40, 0x9000, 0x4000,\nota_0, app, ota_0, 0x10000, 0x1E0000,",
        "x, app, factory, 0x10000, 0x100000, bogus_flag",
    ] {
        assert!(
            matches!(
                FlashLayout::parse(csv),
                Err(LayoutError::Parse(_) | LayoutError::Missing(_))
            ),
            "{csv:?}"
        );
    }
}
