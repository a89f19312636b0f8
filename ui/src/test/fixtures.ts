// Shared fixtures and per-test reset for the screen tests.
import { session } from '../lib/session.svelte';
import type { BandView, Profile } from '../lib/types';
import { clearListeners } from './fake-events';

export const profile: Profile = { id: 7, name: 'Ana', created_at_ms: 1_700_000_000_000 };

export const virtualBand: BandView = {
  id: 'sim:BandX Sim',
  name: 'BandX Sim',
  address: '5A:1B:00:11:22:33',
  kind: 'virtual',
  firmware: 'sim-0.1.0',
  protocol_version: 1,
  battery_percent: 87,
  sample_rate_hz: 20,
  model: { id: 1650, version: 1, classes: ['walking', 'jogging', 'typing'] },
  imu_streaming: false,
  predicting: false,
  mtu: 247,
};

export function resetSession(overrides: Partial<typeof session> = {}) {
  clearListeners();
  session.profile = null;
  session.band = null;
  session.lost = null;
  session.theme = 'light';
  session.screen = 'bands';
  session.retrain = null;
  Object.assign(session, overrides);
}

export const uiError = (code: string, message: string, next_step: string) => ({ code, message, next_step });
