// The one place the UI talks to the Rust core (commands and events). Everything else imports from
// here, so component tests replace this module (vi.mock) and the real app goes through Tauri's IPC.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type {
  ActivityHistoryView,
  BandState,
  BandView,
  CalibrateEvent,
  CalibrateResult,
  ClassView,
  DataOverview,
  FlashProgress,
  FlashResult,
  FlashRequest,
  ImuBatch,
  JobEnd,
  JobKind,
  LiveLink,
  LivePrediction,
  PairingCode,
  LiveSummary,
  MoveResult,
  SettingsView,
  SystemPort,
  PickKind,
  Profile,
  ScanRow,
  ShadowCheck,
  SyncProgressView,
  SyncView,
  TrainProgress,
  TrainResult,
  UiError,
  WearerStyle,
  WearerView,
} from './types';

export type * from './types';

/** True when running inside the Tauri window (false in unit tests and a plain browser). */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** Any thrown value as the core's error shape (commands reject with a UiError). */
export function asUiError(e: unknown): UiError {
  if (e && typeof e === 'object' && 'message' in e && 'next_step' in e) return e as UiError;
  const message = e instanceof Error ? e.message : String(e);
  return { message, next_step: 'Try again; if it keeps failing, restart BandX Studio.', code: 'internal' };
}

export type Unlisten = () => void;

async function on<T>(event: string, cb: (payload: T) => void): Promise<Unlisten> {
  return listen<T>(event, (e) => cb(e.payload));
}

// --- app and bands -------------------------------------------------------------------------
export const appVersion = () => invoke<string>('app_version');
export const scanBands = () => invoke<ScanRow[]>('scan_bands');
export const connectBand = (id: string) => invoke<BandView>('connect_band', { id });
export const useVirtualBand = () => invoke<BandView>('use_virtual_band');
export const disconnectBand = () => invoke<void>('disconnect_band');
export const bandInfo = () => invoke<BandView | null>('band_info');
export const virtualWearer = () => invoke<WearerView>('virtual_wearer');
export const setWearerActivity = (activity: string) => invoke<void>('set_wearer_activity', { activity });
export const setWearerStyle = (style: WearerStyle) => invoke<void>('set_wearer_style', { style });
export const onBandState = (cb: (s: BandState) => void) => on('band:state', cb);
/** Pairs with a band (the virtual one when `virtualBand`); resolves once the right code was typed. */
export const pairBand = (id: string, virtualBand: boolean) => invoke<void>('pair_band', { id, virtualBand });
/** The code the user typed for the pairing in progress; `null` cancels it. */
export const enterPairingCode = (code: string | null) => invoke<void>('enter_pairing_code', { code });
export const unpairBand = (id: string, virtualBand: boolean) => invoke<void>('unpair_band', { id, virtualBand });
export const onPairingCode = (cb: (c: PairingCode) => void) => on('pairing:code', cb);
/** Copies the connected band's activity log (the minutes it recorded, also away from the desktop) into `profile`. */
export const syncBand = (profile: number) => invoke<SyncView>('sync_band', { profile });
export const onSyncProgress = (cb: (p: SyncProgressView) => void) => on('sync:progress', cb);
export const cancelJob = (kind: JobKind) => invoke<boolean>('cancel_job', { kind });

// --- profiles and classes ------------------------------------------------------------------
export const listProfiles = () => invoke<Profile[]>('list_profiles');
export const createProfile = (name: string) => invoke<Profile>('create_profile', { name });
export const deleteProfile = (profile: number) => invoke<void>('delete_profile', { profile });
export const listClasses = (profile: number) => invoke<ClassView[]>('list_classes', { profile });
export const addClass = (profile: number, name: string) => invoke<ClassView>('add_class', { profile, name });
export const renameClass = (cls: number, name: string) => invoke<void>('rename_class', { class: cls, name });
export const deleteClass = (cls: number) => invoke<void>('delete_class', { class: cls });

// --- calibrate -----------------------------------------------------------------------------
export const startCalibration = (profile: number, cls: number, moving: boolean) =>
  invoke<void>('start_calibration', { profile, class: cls, moving });
export const discardWindow = (window: number) => invoke<void>('discard_window', { window });
export const discardClassRecordings = (cls: number) => invoke<void>('discard_class_recordings', { class: cls });
export const onCalibrateEvent = (cb: (e: CalibrateEvent) => void) => on('calibrate:event', cb);
export const onCalibrateDone = (cb: (e: JobEnd<CalibrateResult>) => void) =>
  on('calibrate:done', cb);
export const onImuSamples = (cb: (b: ImuBatch) => void) => on('imu:samples', cb);

// --- train ---------------------------------------------------------------------------------
/** Trains `profile`'s model on the chosen classes (ids, in the profile's order). */
export const startTraining = (profile: number, dark: boolean, classes: number[]) =>
  invoke<void>('start_training', { profile, dark, classes });
export const latestModelResult = (profile: number, dark: boolean) =>
  invoke<TrainResult | null>('latest_model_result', { profile, dark });
export const onTrainProgress = (cb: (p: TrainProgress) => void) => on('train:progress', cb);
export const onTrainDone = (cb: (e: JobEnd<TrainResult>) => void) => on('train:done', cb);

// --- flash ---------------------------------------------------------------------------------
export const startFlash = (request: FlashRequest) => invoke<void>('start_flash', { request });
export const onFlashProgress = (cb: (p: FlashProgress) => void) => on('flash:progress', cb);
export const onFlashDone = (cb: (e: JobEnd<FlashResult>) => void) => on('flash:done', cb);

// --- live ----------------------------------------------------------------------------------
export const startLive = (profile: number) => invoke<void>('start_live', { profile });
/** `offset`: the local time zone in minutes east of UTC (today's totals are local days). */
export const liveSummary = (profile: number, dark: boolean, offset = -new Date().getTimezoneOffset()) =>
  invoke<LiveSummary>('live_summary', { profile, dark, offset });
/** The last `days` days of merged history and the timeline of `day` (an index into them; the last when null). */
export const activityHistory = (
  profile: number,
  days: number,
  day: number | null,
  dark: boolean,
  offset = -new Date().getTimezoneOffset(),
) => invoke<ActivityHistoryView>('activity_history', { profile, days, day, dark, offset });
export const onLiveShadow = (cb: (s: ShadowCheck) => void) => on('live:shadow', cb);
export const onLivePrediction = (cb: (p: LivePrediction) => void) => on('live:prediction', cb);
export const onLiveLink = (cb: (l: LiveLink) => void) => on('live:link', cb);
export const onLiveDone = (cb: (e: JobEnd<null>) => void) => on('live:done', cb);

// --- data ----------------------------------------------------------------------------------
export const dataOverview = (profile: number) => invoke<DataOverview>('data_overview', { profile });
export const deleteRecording = (recording: number) => invoke<void>('delete_recording', { recording });
export const deleteModel = (model: number) => invoke<void>('delete_model', { model });
export const exportProfile = (profile: number, dir: string) => invoke<string>('export_profile', { profile, dir });
export const importProfile = (dir: string) => invoke<Profile>('import_profile', { dir });

// --- file and folder pickers (the system's dialogs) -----------------------------------------
/** Shows the system's picker; resolves to the chosen path, or null when the user cancels. */
export const pickPath = (kind: PickKind, suggestedName: string | null = null) =>
  invoke<string | null>('pick_path', { kind, suggestedName });

// --- settings ------------------------------------------------------------------------------
export const getSettings = () => invoke<SettingsView>('get_settings');
/** Sets `serial_port`, `theme` or `band` (empty clears it); the data folder moves with moveDataDir. */
export const setSetting = (key: 'serial_port' | 'theme' | 'band', value: string) =>
  invoke<SettingsView>('set_setting', { key, value });
export const forgetBand = () => invoke<SettingsView>('forget_band');
export const serialPorts = () => invoke<SystemPort[]>('serial_ports');
/** Copies the data to `dir` (new or empty), verifies it, then switches to it; the old folder is kept. */
export const moveDataDir = (dir: string) => invoke<MoveResult>('move_data_dir', { dir });
/** Shows the logs folder in the system's file manager; resolves to the folder. */
export const openLogsFolder = () => invoke<string>('open_logs_folder');
