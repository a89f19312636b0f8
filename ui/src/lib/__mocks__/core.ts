// Stand-in for lib/core.ts (the IPC boundary) in component tests: every command is a vi.fn() with a
// harmless default, every event subscription goes to test/fake-events.
import { vi } from 'vitest';
import { listenerFor } from '../../test/fake-events';
import type { UiError } from '../types';

export type * from '../types';
export type Unlisten = () => void;

export const inTauri = vi.fn(() => false);

export function asUiError(e: unknown): UiError {
  if (e && typeof e === 'object' && 'message' in e && 'next_step' in e) return e as UiError;
  return { message: String(e), next_step: 'Try again.', code: 'internal' };
}

const none = () => vi.fn(async (): Promise<never> => undefined as never);

export const appVersion = vi.fn(async () => '0.1.0');
export const scanBands = none();
export const connectBand = none();
export const useVirtualBand = none();
export const disconnectBand = none();
export const bandInfo = none();
export const virtualWearer = vi.fn(async () => ({
  activities: ['walking', 'jogging', 'typing'],
  activity: 'walking',
  style: 'natural' as const,
}));
export const setWearerActivity = none();
export const setWearerStyle = none();
export const cancelJob = vi.fn(async () => true);
export const pairBand = none();
export const enterPairingCode = none();
export const unpairBand = none();
export const onPairingCode = listenerFor('pairing:code');
export const syncBand = none();
export const onSyncProgress = listenerFor('sync:progress');

export const listProfiles = vi.fn(async () => []);
export const createProfile = none();
export const deleteProfile = none();
export const listClasses = vi.fn(async () => []);
export const addClass = none();
export const renameClass = none();
export const deleteClass = none();

export const startCalibration = none();
export const discardWindow = none();
export const discardClassRecordings = none();

export const startTraining = none();
export const latestModelResult = vi.fn(async () => null);

export const startFlash = none();

export const startLive = none();
export const liveSummary = none();
export const activityHistory = vi.fn(async () => ({
  days: ['2026-12-05'],
  classes: [],
  minutes: [[]],
  day: 0,
  day_svg: '<svg xmlns="http://www.w3.org/2000/svg"/>',
  day_rows: [],
  time_unknown_minutes: 0,
}));

export const dataOverview = vi.fn(async () => ({ recordings: [], models: [], deployments: [] }));
export const deleteRecording = none();
export const deleteModel = none();
export const exportProfile = none();
export const importProfile = none();

export const pickPath = vi.fn(async (): Promise<string | null> => null);

export const settingsView = {
  settings: { data_dir: null, serial_port: null, theme: 'system' as const, band: null, last_folder: null },
  problem: null,
  data_dir: '/home/you/.local/share/bandx-studio',
  data_dir_fixed: false,
  logs_folder: '/home/you/.local/share/bandx-studio/logs',
  settings_file: '/home/you/.config/bandx-studio/settings.toml',
};
export const getSettings = vi.fn(async () => settingsView);
export const setSetting = vi.fn(async () => settingsView);
export const forgetBand = vi.fn(async () => settingsView);
export const serialPorts = vi.fn(async () => []);
export const moveDataDir = none();
export const openLogsFolder = vi.fn(async () => '/home/you/.local/share/bandx-studio/logs');

export const onBandState = listenerFor('band:state');
export const onCalibrateEvent = listenerFor('calibrate:event');
export const onCalibrateDone = listenerFor('calibrate:done');
export const onImuSamples = listenerFor('imu:samples');
export const onTrainProgress = listenerFor('train:progress');
export const onTrainDone = listenerFor('train:done');
export const onFlashProgress = listenerFor('flash:progress');
export const onFlashDone = listenerFor('flash:done');
export const onLivePrediction = listenerFor('live:prediction');
export const onLiveShadow = listenerFor('live:shadow');
export const onLiveLink = listenerFor('live:link');
export const onLiveDone = listenerFor('live:done');
