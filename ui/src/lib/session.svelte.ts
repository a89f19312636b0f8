// What every screen shares: the selected profile, the connected band, the theme.
import type { BandView, Profile } from './types';

export type Screen = 'bands' | 'calibrate' | 'train' | 'flash' | 'live' | 'data';

export const session = $state<{
  profile: Profile | null;
  band: BandView | null;
  /** The band dropped on its own (not a disconnect the user asked for). */
  lost: string | null;
  theme: 'light' | 'dark';
  screen: Screen;
}>({ profile: null, band: null, lost: null, theme: 'light', screen: 'bands' });

export function go(screen: Screen) {
  session.screen = screen;
}
