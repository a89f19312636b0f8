// What every screen shares: the selected profile, the connected band, the theme.
import type { BandView, Profile } from './types';

export type Screen = 'bands' | 'calibrate' | 'train' | 'flash' | 'live' | 'data' | 'settings';

/** A stored model the band cannot run any more, which the user chose to train again. */
export interface Retrain {
  version: number;
  classes: string[];
  reason: string;
}

export const session = $state<{
  profile: Profile | null;
  band: BandView | null;
  /** The band dropped on its own (not a disconnect the user asked for). */
  lost: string | null;
  theme: 'light' | 'dark';
  screen: Screen;
  /** Set by "Train again" on an outdated model: the Train screen starts from its classes. */
  retrain: Retrain | null;
}>({ profile: null, band: null, lost: null, theme: 'light', screen: 'bands', retrain: null });

export function go(screen: Screen) {
  session.screen = screen;
}

/** Opens the Train screen to replace an outdated model, with that model's classes. */
export function trainAgain(model: { version: number; classes: string[]; outdated?: string | null }) {
  session.retrain = { version: model.version, classes: [...model.classes], reason: model.outdated ?? '' };
  go('train');
}
