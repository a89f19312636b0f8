//! The SVG plots, checked for structure: well-formed XML, every label present, one shape per data item.

use std::collections::HashMap;

use bandx_desktop::plots::{
    DailyBars, PlotError, PlotOptions, Segment, Theme, TimelinePoint, WindowSpan,
    activity_timeline, confusion_matrix, daily_totals, day_timeline, palette, signal_preview,
    timeline_segments,
};
use bandx_desktop::store::{DailyTotal, Day};
use quick_xml::XmlVersion;
use quick_xml::events::Event;

/// One SVG element: its name and attributes.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: HashMap<String, String>,
}

/// Parses the SVG strictly (matching end tags, valid escapes); returns its elements and the text of each
/// `<text>` element.
fn parse(svg: &str) -> (Vec<Element>, Vec<String>) {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut elements = Vec::new();
    let mut texts = Vec::new();
    let mut current: Option<String> = None;
    let mut depth = 0usize;
    let mut roots = 0;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("SVG is not well-formed XML: {e}\n{svg}"));
        let start = match &event {
            Event::Start(e) | Event::Empty(e) => Some(e.clone()),
            _ => None,
        };
        if let Some(e) = start {
            let name = e.name().as_ref().to_owned();
            if depth == 0 {
                roots += 1;
                assert_eq!(name, "svg");
            }
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        a.key.as_ref().to_owned(),
                        a.normalized_value(XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    )
                })
                .collect();
            if name == "text" && matches!(event, Event::Start(_)) {
                current = Some(String::new());
            }
            elements.push(Element { name, attrs });
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(e) => {
                depth -= 1;
                if e.name().as_ref() == "text" {
                    // plotters puts the text on its own line; a viewer collapses that whitespace.
                    texts.push(current.take().unwrap().trim().to_owned());
                }
            }
            Event::Text(t) => {
                if let Some(text) = current.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match &*r.xml10_content() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    "apos" => '\'',
                    other => r
                        .resolve_char_ref()
                        .unwrap()
                        .unwrap_or_else(|| panic!("unknown entity {other}")),
                };
                if let Some(text) = current.as_mut() {
                    text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!((roots, depth), (1, 0));
    (elements, texts)
}

fn rects_filled(elements: &[Element], color: plotters::style::RGBColor) -> usize {
    let hex = palette::hex(color);
    elements
        .iter()
        .filter(|e| e.name == "rect" && e.attrs.get("fill") == Some(&hex))
        .count()
}

fn count_of(texts: &[String], wanted: &str) -> usize {
    texts.iter().filter(|t| t.as_str() == wanted).count()
}

#[test]
fn signal_preview_draws_six_axes_and_the_windows() {
    let samples: Vec<[f32; 6]> = (0..120)
        .map(|i| {
            let t = i as f32 / 20.0;
            [t.sin() * 9.8, t.cos(), 9.81, 0.1 * t, -0.5, (3.0 * t).sin()]
        })
        .collect();
    let windows = [
        WindowSpan {
            start_index: 0,
            len: 60,
            good: true,
        },
        WindowSpan {
            start_index: 30,
            len: 60,
            good: true,
        },
        WindowSpan {
            start_index: 60,
            len: 60,
            good: false,
        },
    ];
    for theme in [Theme::Light, Theme::Dark] {
        let svg = signal_preview(
            &samples,
            20.0,
            &windows,
            &PlotOptions {
                theme,
                ..PlotOptions::default()
            },
        )
        .unwrap();
        let (elements, texts) = parse(&svg);
        // One line per axis with every sample as a point.
        let full_lines = elements
            .iter()
            .filter(|e| e.name == "polyline")
            .filter(|e| e.attrs["points"].split_whitespace().count() == samples.len())
            .count();
        assert_eq!(full_lines, 6);
        for label in [
            "ax",
            "ay",
            "az",
            "gx",
            "gy",
            "gz",
            "Acceleration (m/s²)",
            "Rotation (rad/s)",
        ] {
            assert_eq!(count_of(&texts, label), 1, "{label}: {texts:?}");
        }
        // Each window is shaded in both panels, green when good, red when rejected.
        let shaded: Vec<_> = elements
            .iter()
            .filter(|e| {
                e.name == "rect" && e.attrs.get("opacity").map(String::as_str) == Some("0.12")
            })
            .collect();
        assert_eq!(shaded.len(), 2 * windows.len());
        let red = shaded
            .iter()
            .filter(|e| e.attrs["fill"] == "#D62728")
            .count();
        assert_eq!(red, 2);
    }
    assert!(matches!(
        signal_preview(&samples, 0.0, &[], &PlotOptions::default()),
        Err(PlotError::Invalid(_))
    ));
    let mut broken = samples.clone();
    broken[5][2] = f32::NAN;
    assert!(matches!(
        signal_preview(&broken, 20.0, &[], &PlotOptions::default()),
        Err(PlotError::Invalid(_))
    ));
    // An empty signal still draws (the preview before the first sample).
    parse(&signal_preview(&[], 20.0, &[], &PlotOptions::default()).unwrap());
}

#[test]
fn confusion_matrix_has_a_cell_per_pair_with_its_count_and_row_share() {
    let labels: Vec<String> = ["walk", "brush <teeth> & floss", "sit \"still\"", "Treppe ↑"]
        .map(String::from)
        .to_vec();
    let counts = vec![
        vec![12, 2, 0, 1],
        vec![3, 9, 3, 0],
        vec![0, 0, 15, 0],
        vec![0, 0, 0, 0],
    ];
    let svg = confusion_matrix(&labels, &counts, &PlotOptions::default()).unwrap();
    let (elements, texts) = parse(&svg);
    for label in &labels {
        assert_eq!(
            count_of(&texts, label),
            2,
            "{label} labels a row and a column"
        );
    }
    // The numbers drawn are exactly the counts, one per cell.
    let mut drawn: Vec<u32> = texts.iter().filter_map(|t| t.parse().ok()).collect();
    let mut expected: Vec<u32> = counts.iter().flatten().copied().collect();
    drawn.sort();
    expected.sort();
    assert_eq!(drawn, expected);
    // One shaded cell per pair, shaded by its share of the row (an empty row is all pale).
    let mut shades: HashMap<String, usize> = HashMap::new();
    for row in &counts {
        let total: u32 = row.iter().sum();
        for &c in row {
            let share = if total == 0 {
                0.0
            } else {
                f64::from(c) / f64::from(total)
            };
            *shades
                .entry(palette::hex(palette::cell_shade(share)))
                .or_default() += 1;
        }
    }
    for (hex, n) in &shades {
        let found = elements
            .iter()
            .filter(|e| e.name == "rect" && &e.attrs["fill"] == hex)
            .count();
        assert_eq!(found, *n, "cells shaded {hex}");
    }
    assert_eq!(shades.values().sum::<usize>(), 16);
    // A full row is the darkest shade, an empty cell the palest.
    assert_eq!(palette::cell_shade(15.0 / 15.0), palette::cell_shade(1.0));
    assert_ne!(palette::cell_shade(0.0), palette::cell_shade(1.0));

    let bad = confusion_matrix(&labels, &counts[..3], &PlotOptions::default());
    assert!(matches!(bad, Err(PlotError::Invalid(_))));
    assert!(matches!(
        confusion_matrix(&[], &[], &PlotOptions::default()),
        Err(PlotError::Invalid(_))
    ));
}

const MIN: i64 = 60_000;

fn points(spec: &[(i64, &str)]) -> Vec<TimelinePoint> {
    spec.iter()
        .map(|&(t_ms, class)| TimelinePoint {
            t_ms,
            class: class.into(),
        })
        .collect()
}

#[test]
fn timeline_segments_merge_runs_and_split_on_gaps() {
    let hop = 1500;
    let pts = points(&[
        (0, "walk"),
        (1500, "walk"),
        (3000, "walk"),
        (4500, "run"),
        (6000, "run"),
        // 4.5 s of silence (> 2 hops): the link dropped.
        (10_500, "run"),
        (12_000, "walk"),
    ]);
    let seg = |class: &str, start_ms, end_ms| Segment {
        class: class.into(),
        start_ms,
        end_ms,
    };
    assert_eq!(
        timeline_segments(&pts, hop),
        [
            seg("walk", 0, 4500),
            seg("run", 4500, 7500),
            seg("run", 10_500, 12_000),
            seg("walk", 12_000, 13_500),
        ]
    );
    // Exactly two hops apart still joins.
    assert_eq!(
        timeline_segments(&points(&[(0, "a"), (3000, "a")]), hop),
        [seg("a", 0, 4500)]
    );
    assert!(timeline_segments(&[], hop).is_empty());
}

#[test]
fn activity_timeline_draws_a_bar_per_segment_of_the_last_hour() {
    let now = 1_795_651_200_000;
    let classes: Vec<String> = ["walk", "sit", "brush & floss"].map(String::from).to_vec();
    let mut spec = vec![(now - 2 * 60 * MIN, "walk")]; // older than an hour: left out
    for k in 0..20 {
        spec.push((now - 50 * MIN + k * 1500, "walk"));
    }
    for k in 0..10 {
        spec.push((now - 30 * MIN + k * 1500, "sit"));
    }
    for k in 0..10 {
        spec.push((now - 10 * MIN + k * 1500, "walk"));
    }
    spec.push((now - MIN, "jump")); // not one of the profile's classes: gets its own row
    let pts = points(&spec);
    let svg = activity_timeline(
        &pts,
        &classes,
        now,
        1500,
        "Last hour",
        &PlotOptions::default(),
    )
    .unwrap();
    let (elements, texts) = parse(&svg);
    assert_eq!(
        rects_filled(&elements, palette::class_color(0)),
        2,
        "walk: two stretches"
    );
    assert_eq!(rects_filled(&elements, palette::class_color(1)), 1, "sit");
    assert_eq!(
        rects_filled(&elements, palette::class_color(2)),
        0,
        "brush & floss: not done"
    );
    assert_eq!(rects_filled(&elements, palette::class_color(3)), 1, "jump");
    for label in ["walk", "sit", "brush & floss", "jump", "Last hour"] {
        assert_eq!(count_of(&texts, label), 1, "{label}: {texts:?}");
    }
    let mut unsorted = pts.clone();
    unsorted.swap(1, 2);
    assert!(matches!(
        activity_timeline(
            &unsorted,
            &classes,
            now,
            1500,
            "Last hour",
            &PlotOptions::default()
        ),
        Err(PlotError::Invalid(_))
    ));
}

#[test]
fn day_timeline_places_each_stretch_at_its_hour_and_greys_the_muted_rows() {
    let midnight = 1_795_651_200_000;
    let hour = 60 * MIN;
    let seg = |from_h: i64, to_h: i64, class: &str| Segment {
        class: class.into(),
        start_ms: midnight + from_h * hour,
        end_ms: midnight + to_h * hour,
    };
    let classes: Vec<String> = ["walk", "sit"].map(String::from).to_vec();
    let segments = [
        seg(0, 6, "not worn"),
        seg(6, 12, "walk"),
        seg(12, 18, "sit"),
        seg(18, 30, "walk"), // runs past midnight: drawn up to 24:00
    ];
    let muted = ["not worn", "no model"];
    let svg = day_timeline(
        &segments,
        &classes,
        &muted,
        midnight,
        "2026-11-25",
        &PlotOptions::default(),
    )
    .unwrap();
    let (elements, texts) = parse(&svg);
    let rect = |color| -> Vec<(f64, f64)> {
        let hex = palette::hex(color);
        elements
            .iter()
            .filter(|e| e.name == "rect" && e.attrs.get("fill") == Some(&hex))
            .map(|e| {
                (
                    e.attrs["x"].parse().unwrap(),
                    e.attrs["width"].parse().unwrap(),
                )
            })
            .collect()
    };
    let walk = rect(palette::class_color(0));
    let sit = rect(palette::class_color(1));
    let grey = rect(palette::MUTED);
    assert_eq!((walk.len(), sit.len(), grey.len()), (2, 1, 1), "{svg}");
    // Six hours are the same width wherever they are, and the stretches meet end to start.
    let (night, morning, afternoon, evening) = (grey[0], walk[0], sit[0], walk[1]);
    for (a, b) in [(night, morning), (morning, afternoon), (afternoon, evening)] {
        assert!((a.1 - b.1).abs() <= 1.0, "{a:?} {b:?}");
        assert!((a.0 + a.1 - b.0).abs() <= 1.0, "{a:?} {b:?}");
    }
    for label in ["walk", "sit", "not worn", "2026-11-25"] {
        assert_eq!(count_of(&texts, label), 1, "{label}: {texts:?}");
    }
    assert_eq!(
        count_of(&texts, "no model"),
        0,
        "a muted row only when it occurs"
    );
    // Ten seconds before midnight is still a visible bar, and inside the plot.
    let blip = [Segment {
        class: "walk".into(),
        start_ms: midnight + 24 * hour - 10_000,
        end_ms: midnight + 24 * hour,
    }];
    let svg = day_timeline(
        &blip,
        &classes,
        &muted,
        midnight,
        "x",
        &PlotOptions::default(),
    )
    .unwrap();
    let (elements, _) = parse(&svg);
    let hex = palette::hex(palette::class_color(0));
    let bar = elements
        .iter()
        .find(|e| e.name == "rect" && e.attrs.get("fill") == Some(&hex))
        .expect("a bar for ten seconds");
    let (x, width): (f64, f64) = (
        bar.attrs["x"].parse().unwrap(),
        bar.attrs["width"].parse().unwrap(),
    );
    assert!(width >= 1.0, "{width}");
    assert!(
        x + width <= evening.0 + evening.1 + 1.0,
        "{x} + {width} past midnight"
    );
    let backwards = [Segment {
        class: "walk".into(),
        start_ms: midnight + hour,
        end_ms: midnight,
    }];
    assert!(matches!(
        day_timeline(
            &backwards,
            &classes,
            &muted,
            midnight,
            "x",
            &PlotOptions::default()
        ),
        Err(PlotError::Invalid(_))
    ));
}

#[test]
fn daily_totals_draws_a_bar_per_class_and_day_with_activity() {
    let d = 20_417; // 2025-11-25
    let total = |day: i64, class: &str, windows| DailyTotal {
        day: Day(day),
        class: class.into(),
        windows,
    };
    let totals = [
        total(d, "sit", 400),
        total(d, "walk", 1200),
        total(d + 1, "walk", 40),
        total(d + 2, "sit", 10),
        total(d + 2, "swim", 80),
    ];
    let classes: Vec<String> = ["walk", "sit", "cycle"].map(String::from).to_vec();
    let bars = DailyBars::from_totals(&totals, &classes, 1.5);
    assert_eq!(bars.days, ["2025-11-25", "2025-11-26", "2025-11-27"]);
    assert_eq!(bars.classes, ["walk", "sit", "cycle", "swim"]);
    assert_eq!(
        bars.minutes,
        [
            [30.0, 10.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.25, 0.0, 2.0]
        ]
    );
    let svg = daily_totals(&bars, &PlotOptions::default()).unwrap();
    let (elements, texts) = parse(&svg);
    for (class, days_with_activity) in [(0, 2), (1, 2), (2, 0), (3, 1)] {
        assert_eq!(
            rects_filled(&elements, palette::class_color(class)),
            days_with_activity,
            "{}",
            bars.classes[class]
        );
    }
    for label in bars.classes.iter().chain(&bars.days) {
        assert_eq!(count_of(&texts, label), 1, "{label}: {texts:?}");
    }
    let ragged = DailyBars {
        minutes: vec![vec![1.0]],
        ..bars.clone()
    };
    assert!(matches!(
        daily_totals(&ragged, &PlotOptions::default()),
        Err(PlotError::Invalid(_))
    ));
    let negative = DailyBars {
        minutes: vec![vec![-1.0; 4]; 3],
        ..bars
    };
    assert!(matches!(
        daily_totals(&negative, &PlotOptions::default()),
        Err(PlotError::Invalid(_))
    ));
}

#[test]
fn plots_need_no_fonts_or_external_resources() {
    let svg = confusion_matrix(&["a".into()], &[vec![1]], &PlotOptions::default()).unwrap();
    // Text stays text for the viewer to render; nothing is embedded or fetched.
    for banned in ["<image", "href", "@font-face", "url("] {
        assert!(!svg.contains(banned), "{banned}");
    }
    let tiny = PlotOptions {
        width: 10,
        height: 10,
        theme: Theme::Light,
    };
    assert!(matches!(
        confusion_matrix(&["a".into()], &[vec![1]], &tiny),
        Err(PlotError::Invalid(_))
    ));
}
