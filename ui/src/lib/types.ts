// The shapes the Rust core sends (src-tauri: commands/*.rs, events.rs, error.rs; bandx-desktop's store rows and
// training progress). They are GENERATED from the Rust types into ./generated/types.ts by
// src-tauri/tests/ui_types.rs, which fails (and so does `make test`) when that file is stale; regenerate it with
//   BANDX_UPDATE_UI_TYPES=1 cargo test --workspace --test ui_types
// Screens import from here (or ./core). UI-only helper types may be added below, never a copy of a Rust type.
export type * from './generated/types';
