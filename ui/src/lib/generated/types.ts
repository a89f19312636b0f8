// GENERATED from the Rust types by src-tauri/tests/ui_types.rs (ts-rs); do not edit by hand.
// After changing a type the window receives, run:
//   BANDX_UPDATE_UI_TYPES=1 cargo test --workspace --test ui_types
// The UI imports them through ../types.ts.

/**
 * The Data screen's activity history: merged minutes per activity for each of the last `days` days, and the
 * timeline of one of them.
 */
export type ActivityHistoryView = { 
/**
 * `YYYY-MM-DD`, oldest first.
 */
days: Array<string>, classes: Array<string>, 
/**
 * `minutes[d][c]`: merged minutes of `classes[c]` on `days[d]`.
 */
minutes: Array<Array<number>>, 
/**
 * Index into `days` of the day drawn.
 */
day: number, day_svg: string, 
/**
 * Minutes of each row of that day's timeline, by source.
 */
day_rows: Array<DayRowView>, 
/**
 * Minutes synced from the band whose time is unknown (in no day).
 */
time_unknown_minutes: number, };

export type BandId = number;

/**
 * Whether a band is connected.
 */
export type BandState = { connected: boolean, reason: BandStateReason, name: string | null, };

/**
 * Why the band's state changed.
 */
export type BandStateReason = "connected" | "requested" | "lost";

/**
 * Everything the Bands screen shows about the connected band.
 */
export type BandView = { 
/**
 * The link's id for the band (pass it back to pair, unpair or connect).
 */
id: string, name: string, address: string, kind: LinkKind, firmware: string, protocol_version: number, battery_percent: number, sample_rate_hz: number, model: ModelView | null, imu_streaming: boolean, predicting: boolean, mtu: number, };

/**
 * The window's view of a session, tagged by `kind` (its TypeScript type is generated: `tests/ui_types.rs`).
 */
export type CalibrateEvent = { "kind": "progress", class: ClassId, good_count: number, needed: number, } | { "kind": "countdown", class: ClassId, seconds_left: number, } | { "kind": "recording", class: ClassId, } | { "kind": "paused", class: ClassId, message: string, } | { "kind": "resumed", class: ClassId, } | { "kind": "window", class: ClassId, index: number, 
/**
 * Set for a good window (the UI offers to discard it).
 */
window: WindowId | null, good: boolean, reason: string | null, } | { "kind": "done", class: ClassId, good_count: number, needed: number, };

/**
 * How a session ended.
 */
export type CalibrateResult = { good: number, needed: number, };

export type ClassId = number;

/**
 * A class with how much calibration it has.
 */
export type ClassView = { id: ClassId, name: string, 
/**
 * Good calibration windows recorded so far.
 */
good_windows: number, };

export type DailyTotal = { class: string, minutes: number, };

export type DataOverview = { recordings: Array<RecordingRow>, models: Array<ModelRow>, deployments: Array<DeploymentRow>, };

export type DayRowView = { 
/**
 * An activity, or "not worn" / "no model" / "unknown model".
 */
label: string, band_log_minutes: number, live_minutes: number, };

export type DeploymentId = number;

export type DeploymentRow = { model_version: number | null, band_name: string, id: DeploymentId, profile: ProfileId, model: ModelId | null, band: BandId, transport: Transport, status: DeploymentStatus, started_at_ms: number, finished_at_ms: number | null, bytes_total: number, bytes_sent: number, resumed_count: number, error: string | null, };

export type DeploymentStatus = "pending" | "transferring" | "committed" | "verified" | "failed" | "cancelled";

/**
 * Progress for the window, whatever the transport.
 */
export type FlashProgress = { stage: string, bytes_sent: number, bytes_total: number, bytes_per_sec: number, eta_secs: number | null, reconnects: number, };

/**
 * What the user asked for.
 */
export type FlashRequest = { profile: ProfileId, transport: Transport, 
/**
 * A firmware image (BLE firmware; USB firmware). `None` for USB writes the newest model.
 */
file: string | null, 
/**
 * USB serial port; `None` finds the band's.
 */
port: string | null, 
/**
 * BLE: sign a downgrade (a firmware older than the band's, or an older version of its model).
 */
allow_downgrade: boolean, };

/**
 * A verified write.
 */
export type FlashResult = { transport: Transport, bytes: number, seconds: number, bytes_per_sec: number, reconnects: number, 
/**
 * What the band reports afterwards (BLE; USB restarts the band without telling).
 */
firmware: string, model: ModelView | null, };

/**
 * IMU samples in SI units (m/s², rad/s), oldest first, each `[t_ms, ax, ay, az, gx, gy, gz]`.
 */
export type ImuBatch = { samples: Array<[number, number, number, number, number, number, number]>, };

/**
 * How a job ended: `ok` with its result, or the error.
 */
export type JobEnd<T> = { "outcome": "ok", result: T, } | { "outcome": "failed", error: UiError, } | { "outcome": "cancelled", error: UiError, };

/**
 * The kinds of long job; at most one of each runs at a time.
 */
export type JobKind = "train" | "calibrate" | "flash" | "live";

/**
 * Which kind of link a band is on.
 */
export type LinkKind = "bluetooth" | "virtual";

/**
 * The live view paused (reconnecting, `reason` says why) or resumed.
 */
export type LiveLink = { paused: boolean, reason: string | null, };

/**
 * One band prediction for the window.
 */
export type LivePrediction = { window_seq: number, t_ms: number, class: string, confidence: number, };

/**
 * What the Live screen shows besides the current prediction.
 */
export type LiveSummary = { timeline_svg: string, 
/**
 * Today from midnight, merged from the band's log and the live predictions.
 */
day_svg: string, today: Array<DailyTotal>, };

export type ModelId = number;

export type ModelRow = { id: ModelId, version: number, classes: Array<string>, created_at_ms: number, bytes: number, personal_accuracy: number | null, 
/**
 * Why the band cannot run this model with this build (made by another version), if so: the
 * window shows it, refuses to flash it and offers to train again.
 */
outdated: string | null, };

/**
 * The model the band runs.
 */
export type ModelView = { id: number, version: number, classes: Array<string>, };

/**
 * A finished move of the data folder.
 */
export type MoveResult = { view: SettingsView, 
/**
 * The folder the data was copied from; it is kept until the user deletes it.
 */
old_dir: string, files: number, rows: number, };

/**
 * The band shows a code: the Pair step asks for it.
 */
export type PairingCode = { 
/**
 * The virtual band's screen (for the virtual-band panel); `None` for a real band, whose own screen
 * shows the code.
 */
virtual_screen: string | null, };

/**
 * What the user is asked to pick.
 */
export type PickKind = "import_folder" | "export_folder" | "firmware_file" | "data_folder";

export type Profile = { id: ProfileId, name: string, created_at_ms: number, };

export type ProfileId = number;

export type RecordingId = number;

export type RecordingRow = { id: RecordingId, 
/**
 * The class recorded, or `None` for a free recording.
 */
class: string | null, started_at_ms: number, samples: number, seconds: number, good_windows: number, rejected_windows: number, };

/**
 * A band heard during a scan.
 */
export type ScanRow = { id: string, address: string, name: string, 
/**
 * dBm, when the adapter reported it.
 */
rssi: number | null, };

/**
 * What the user chose; every field is optional in the file (absent: the default).
 */
export type Settings = { 
/**
 * Where the store, the virtual band and the logs live (absent: the default location).
 */
data_dir: string | null, 
/**
 * The USB serial port of the band (absent: found by its USB bridge).
 */
serial_port: string | null, theme: Theme, 
/**
 * The band the app reconnects to (absent: none remembered). "Forget this band" clears it.
 */
band: string | null, 
/**
 * The folder the last file or folder dialog ended in; the next one starts there.
 */
last_folder: string | null, };

/**
 * What the Settings screen shows.
 */
export type SettingsView = { settings: Settings, 
/**
 * Why the settings file is not in use (it is bad: the defaults are), until new settings are saved.
 */
problem: string | null, 
/**
 * The data folder in use.
 */
data_dir: string, 
/**
 * `BANDX_DATA_DIR` decides the data folder: it cannot be moved from the window.
 */
data_dir_fixed: boolean, logs_folder: string, 
/**
 * Where the settings are saved (`None`: they are not).
 */
settings_file: string | null, };

/**
 * The desktop's check of one band window.
 */
export type ShadowCheck = { window_seq: number, agree: boolean, 
/**
 * Agreement so far in this session, 0..=1.
 */
rate: number | null, };

/**
 * [`SyncProgress`] for the window.
 */
export type SyncProgressView = { stored: number, total: number, };

/**
 * What a sync did, for the window.
 */
export type SyncView = { 
/**
 * Minutes stored by this sync.
 */
stored: number, 
/**
 * Sequence numbers the band overwrote before they were synced (`first`, `last`), if any.
 */
gap: [number, number] | null, 
/**
 * Stored minutes whose time is unknown (logged after a restart of the band, before its clock was set).
 */
timeUnknown: number, 
/**
 * When this band was last synced (now, after a sync that stored something).
 */
lastSyncedMs: number | null, };

/**
 * A serial port on this machine, as the Settings screen and `bandx config ports` list it.
 */
export type SystemPort = { 
/**
 * Device path, e.g. `/dev/ttyUSB0`.
 */
path: string, 
/**
 * `vid:pid` in hex for a USB port, e.g. `10c4:ea60`.
 */
usb_id: string | null, 
/**
 * The ESP32 USB bridge behind it (e.g. "Silicon Labs CP210x"), when it is a known one.
 */
bridge: string | null, 
/**
 * What the USB device calls itself.
 */
product: string | null, };

/**
 * The window's colours.
 */
export type Theme = "system" | "light" | "dark";

/**
 * A progress event: the stage starting and the share of the whole job done before it (0..=1).
 */
export type TrainProgress = { fraction: number, } & ({ "stage": "loading" } | { "stage": "generic_baseline" } | { "stage": "cross_validation", fold: number, folds: number, } | { "stage": "personalizing" } | { "stage": "exporting" } | { "stage": "storing" } | { "stage": "done" });

/**
 * A trained (stored) model as the Train screen shows it.
 */
export type TrainResult = { model: ModelId, version: number, classes: Array<string>, 
/**
 * How the model was personalized, as a sentence for the user.
 */
method: string, 
/**
 * Cross-validated estimate for the personal model, 0..=1.
 */
personal_accuracy: number, 
/**
 * The generic model on the same windows (choosing among all its classes), when it knows every class.
 */
generic_accuracy: number | null, 
/**
 * The generic model told which classes are possible (argmax over the user's classes only).
 */
generic_among_user_classes: number | null, 
/**
 * Class names the generic model cannot name (then there is no generic accuracy).
 */
generic_unknown: Array<string>, 
/**
 * Sentences for the user: similar classes, int8 parity.
 */
warnings: Array<string>, confusion_svg: string, blob_bytes: number, created_at_ms: number, 
/**
 * Why the band cannot run this stored model with this build (made by an older version), if
 * so; the screen then offers to train again instead of flashing it.
 */
outdated: string | null, };

/**
 * How the bytes travel.
 */
export type Transport = "ble_model" | "ble_firmware" | "usb";

/**
 * What a command or job reports when it fails.
 */
export type UiError = { 
/**
 * What happened, one plain sentence.
 */
message: string, 
/**
 * What the user can do about it.
 */
next_step: string, 
/**
 * Stable code the UI can act on (`no_adapter` offers the virtual band, `cancelled` is not an error).
 */
code: string, };

/**
 * How the virtual wearer wears the band.
 */
export type WearerStyle = "natural" | "different";

/**
 * What the virtual band's wearer is doing.
 */
export type WearerView = { 
/**
 * Every activity the wearer's recordings have, in dataset order.
 */
activities: Array<string>, activity: string, style: WearerStyle, };

export type WindowId = number;
