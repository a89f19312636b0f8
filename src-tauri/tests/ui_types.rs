//! The UI's TypeScript types are generated from the Rust types the window receives (and the one request it
//! sends), with ts-rs: this test renders every such type, and the types they use, into one file and compares it
//! with the committed `ui/src/lib/generated/types.ts`. A Rust change that alters what the window gets makes the
//! file stale and this test (so `make test`) fail until it is regenerated with
//! `BANDX_UPDATE_UI_TYPES=1 cargo test --workspace --test ui_types`.
//! `ui/src/lib/types.ts` re-exports the generated types and must not declare its own copy of any of them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ts_rs::{Config, TS, TypeVisitor};

use bandx_desktop::store::Profile;
use bandx_desktop::train::Progress;
use bandx_studio::UiError;
use bandx_studio::commands::bands::{BandView, ScanRow, WearerView};
use bandx_studio::commands::calibrate::{CalibrateEvent, CalibrateResult};
use bandx_studio::commands::data::DataOverview;
use bandx_studio::commands::dialogs::PickKind;
use bandx_studio::commands::flash::{FlashProgress, FlashRequest, FlashResult};
use bandx_studio::commands::live::{
    ActivityHistoryView, DayRowView, LiveLink, LivePrediction, LiveSummaryView, ShadowCheck,
};
use bandx_studio::commands::pairing::PairingCode;
use bandx_studio::commands::profiles::ClassView;
use bandx_studio::commands::settings::{MoveResult, SettingsView};
use bandx_studio::commands::sync::{SyncProgressView, SyncView};
use bandx_studio::commands::train::TrainResult;
use bandx_studio::events::{BandState, ImuBatch, JobEnd};
use bandx_studio::state::JobKind;

/// Set to `1` to rewrite the generated file instead of comparing with it.
const UPDATE_VAR: &str = "BANDX_UPDATE_UI_TYPES";
const UPDATE_COMMAND: &str = "BANDX_UPDATE_UI_TYPES=1 cargo test --workspace --test ui_types";

const HEADER: &str = "\
// GENERATED from the Rust types by src-tauri/tests/ui_types.rs (ts-rs); do not edit by hand.
// After changing a type the window receives, run:
//   BANDX_UPDATE_UI_TYPES=1 cargo test --workspace --test ui_types
// The UI imports them through ../types.ts.
";

/// Every type the window gets from a command's result, an event or an error, and the request it sends;
/// the types they use are collected from them.
fn collect_roots(c: &mut Collect) {
    // errors and job endings (`JobEnd<T>` is declared once, generic)
    c.visit::<UiError>();
    c.visit::<JobKind>();
    c.visit::<JobEnd<()>>();
    // bands
    c.visit::<ScanRow>();
    c.visit::<BandView>();
    c.visit::<BandState>();
    c.visit::<WearerView>();
    c.visit::<PairingCode>();
    c.visit::<SyncView>();
    c.visit::<SyncProgressView>();
    // profiles, calibration
    c.visit::<Profile>();
    c.visit::<ClassView>();
    c.visit::<CalibrateEvent>();
    c.visit::<CalibrateResult>();
    c.visit::<ImuBatch>();
    // training
    c.visit::<Progress>();
    c.visit::<TrainResult>();
    // flashing
    c.visit::<FlashRequest>();
    c.visit::<FlashProgress>();
    c.visit::<FlashResult>();
    // live view
    c.visit::<LivePrediction>();
    c.visit::<ShadowCheck>();
    c.visit::<LiveLink>();
    c.visit::<LiveSummaryView>();
    c.visit::<ActivityHistoryView>();
    c.visit::<DayRowView>();
    // data screen
    c.visit::<DataOverview>();
    c.visit::<PickKind>();
    // settings screen
    c.visit::<SettingsView>();
    c.visit::<MoveResult>();
    c.visit::<bandx_desktop::deploy::usb::SystemPort>();
}

/// Declarations by TypeScript name, collected from the roots through every type they use.
struct Collect {
    cfg: Config,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Only declarable types (not numbers, strings, `Vec`, `Option`...) have an output path.
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident(&self.cfg);
        let decl = format!(
            "{}export {}",
            T::docs().unwrap_or_default(),
            T::decl(&self.cfg)
        );
        if let Some(seen) = self.decls.get(&name) {
            assert_eq!(
                seen, &decl,
                "two Rust types are both called `{name}` in TypeScript: rename one with #[ts(rename = ..)]"
            );
            return;
        }
        self.decls.insert(name, decl);
        T::visit_dependencies(self);
    }
}

/// The generated file's text.
fn render() -> (String, Vec<String>) {
    // serde_json sends every integer as a JSON number; ids (i64) stay far below 2^53.
    let cfg = Config::new().with_large_int("number");
    let mut c = Collect {
        cfg,
        decls: BTreeMap::new(),
    };
    collect_roots(&mut c);
    let mut text = String::from(HEADER);
    for decl in c.decls.values() {
        text.push('\n');
        text.push_str(decl.trim_end());
        text.push('\n');
    }
    (text, c.decls.into_keys().collect())
}

fn ui_lib() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib")
}

fn generated_path() -> PathBuf {
    ui_lib().join("generated/types.ts")
}

#[test]
fn the_committed_ui_types_match_the_rust_types() {
    let (expected, names) = render();
    let path = generated_path();
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
        eprintln!("wrote {} ({} types)", path.display(), names.len());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != expected {
        let line = committed
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(expected.lines().count()));
        panic!(
            "ui/src/lib/generated/types.ts is stale: the Rust types the window receives changed (first difference at line {}: \
             committed {:?}, expected {:?}).\nRun `{UPDATE_COMMAND}` to regenerate it, then fix the UI \
             if `npm run check` complains.",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            expected.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

#[test]
fn the_hand_written_types_do_not_redeclare_a_generated_one() {
    let (_, names) = render();
    let hand = std::fs::read_to_string(ui_lib().join("types.ts")).unwrap();
    for line in hand.lines() {
        let declared = ["export interface ", "export type "]
            .iter()
            .find_map(|p| line.trim_start().strip_prefix(p))
            .and_then(|rest| {
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
            });
        if let Some(name) = declared {
            assert!(
                !names.iter().any(|n| n == name),
                "ui/src/lib/types.ts declares `{name}` by hand, but it is generated from Rust: \
                 re-export it from ./generated/types instead"
            );
        }
    }
}
