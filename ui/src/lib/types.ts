// The shapes the Rust core sends (src-tauri/src/app/): keep in step with its Serialize types.

/** Every failure: a plain sentence and the next step; `code` lets a screen offer the right action. */
export interface UiError {
  message: string;
  next_step: string;
  code: string;
}

export type JobKind = 'train' | 'calibrate' | 'flash' | 'live';

export type JobEnd<T> =
  | { outcome: 'ok'; result: T }
  | { outcome: 'failed'; error: UiError }
  | { outcome: 'cancelled'; error: UiError };

export interface ScanRow {
  id: string;
  address: string;
  name: string;
  rssi: number | null;
}

export interface ModelView {
  id: number;
  version: number;
  classes: string[];
}

export interface BandView {
  name: string;
  address: string;
  kind: 'bluetooth' | 'virtual';
  firmware: string;
  protocol_version: number;
  battery_percent: number;
  sample_rate_hz: number;
  model: ModelView | null;
  imu_streaming: boolean;
  predicting: boolean;
  mtu: number;
}

export interface BandState {
  connected: boolean;
  reason: 'connected' | 'requested' | 'lost';
  name: string | null;
}

export interface WearerView {
  activities: string[];
  activity: string;
  style: 'natural' | 'different';
}

export interface Profile {
  id: number;
  name: string;
  created_at_ms: number;
}

export interface ClassView {
  id: number;
  name: string;
  good_windows: number;
}

/** Calibration session events (src-tauri/src/app/commands/calibrate.rs). */
export type CalibrateEvent =
  | { kind: 'progress'; class: number; good_count: number; needed: number }
  | { kind: 'countdown'; class: number; seconds_left: number }
  | { kind: 'recording'; class: number }
  | { kind: 'paused'; class: number; message: string }
  | { kind: 'resumed'; class: number }
  | { kind: 'window'; class: number; index: number; window: number | null; good: boolean; reason: string | null }
  | { kind: 'done'; class: number; good_count: number; needed: number };

/** IMU samples in SI units, each [t_ms, ax, ay, az, gx, gy, gz]. */
export interface ImuBatch {
  samples: number[][];
}

export interface TrainProgress {
  stage: 'loading' | 'generic_baseline' | 'cross_validation' | 'personalizing' | 'exporting' | 'storing' | 'done';
  fold?: number;
  folds?: number;
  fraction: number;
}

export interface TrainResult {
  model: number;
  version: number;
  classes: string[];
  /** How the model was personalized, as a sentence. */
  method: string;
  personal_accuracy: number;
  generic_accuracy: number | null;
  generic_among_user_classes: number | null;
  generic_unknown: string[];
  warnings: string[];
  confusion_svg: string;
  blob_bytes: number;
  created_at_ms: number;
  /** Why the band cannot run this stored model with this build (made by an older version), if so. */
  outdated?: string | null;
}

export type Transport = 'ble_model' | 'ble_firmware' | 'usb';

export interface FlashRequest {
  profile: number;
  transport: Transport;
  /** Firmware image (BLE firmware) or firmware/merged image for USB; model-only uses the latest model. */
  file: string | null;
  /** Serial port for USB (empty: the first one found). */
  port: string | null;
}

export interface FlashProgress {
  stage: string;
  bytes_sent: number;
  bytes_total: number;
  bytes_per_sec: number;
  eta_secs: number | null;
  reconnects: number;
}

export interface FlashResult {
  transport: Transport;
  bytes: number;
  seconds: number;
  bytes_per_sec: number;
  reconnects: number;
  /** What the band reports afterwards. */
  firmware: string;
  model: ModelView | null;
}

export interface LivePrediction {
  window_seq: number;
  t_ms: number;
  class: string;
  confidence: number;
}

/** The desktop's own inference on the same window (same int8 engine on the raw stream). */
export interface ShadowCheck {
  window_seq: number;
  agree: boolean;
  rate: number | null;
}

/** The live view lost the band and is reconnecting (`paused`, with the reason), or got it back. */
export interface LiveLink {
  paused: boolean;
  reason: string | null;
}

export interface DailyTotal {
  class: string;
  minutes: number;
}

export interface LiveSummary {
  timeline_svg: string;
  today: DailyTotal[];
}

export interface RecordingRow {
  id: number;
  class: string | null;
  started_at_ms: number;
  samples: number;
  seconds: number;
  good_windows: number;
  rejected_windows: number;
}

export interface ModelRow {
  id: number;
  version: number;
  classes: string[];
  created_at_ms: number;
  bytes: number;
  personal_accuracy: number | null;
  /** Why the band cannot run this model with this build (made by an older version), if so. */
  outdated?: string | null;
}

export interface DeploymentRow {
  id: number;
  model: number | null;
  transport: Transport;
  status: 'pending' | 'transferring' | 'committed' | 'verified' | 'failed' | 'cancelled';
  started_at_ms: number;
  finished_at_ms: number | null;
  bytes_total: number;
  bytes_sent: number;
  resumed_count: number;
  error: string | null;
  model_version: number | null;
  band_name: string;
}

export interface DataOverview {
  recordings: RecordingRow[];
  models: ModelRow[];
  deployments: DeploymentRow[];
}
