// A model stored by an older BandX Studio (its blob format is refused by this build): a badge with the
// reason wherever models are listed, no flashing it, and "Train again" to the Train screen with its classes.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../App.svelte';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import type { ModelRow, TrainResult } from '../lib/types';
import { profile, resetSession, virtualBand } from '../test/fixtures';
import Data from './Data.svelte';
import Flash from './Flash.svelte';
import Train from './Train.svelte';

vi.mock('../lib/core');

const REASON = 'made by an older BandX Studio (blob format 1); train again from your recordings';
const SENTENCE = `Model v1 cannot run on the band: it was ${REASON}.`;

const old: ModelRow = {
  id: 4,
  version: 1,
  classes: ['walking', 'stairs'],
  created_at_ms: 0,
  bytes: 7480,
  personal_accuracy: 0.9,
  outdated: REASON,
};
const current: ModelRow = { ...old, id: 5, version: 2, classes: ['walking', 'typing'], outdated: null };

function overview(...models: ModelRow[]) {
  return { recordings: [], models, deployments: [] };
}

describe('an outdated model', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession({ profile, band: { ...virtualBand } });
    vi.mocked(core.listClasses).mockResolvedValue([
      { id: 1, name: 'walking', good_windows: 15 },
      { id: 2, name: 'typing', good_windows: 15 },
    ]);
  });

  it('is marked in the Data screen, and only it', async () => {
    vi.mocked(core.dataOverview).mockResolvedValue(overview(old, current));
    render(Data);
    const table = await screen.findByRole('table', { name: 'Models' });
    const [, v1, v2] = within(table).getAllByRole('row');
    expect(within(v1).getByTestId('outdated-badge')).toHaveTextContent(`Outdated: ${REASON}`);
    expect(within(v2).queryByTestId('outdated-badge')).toBeNull();
    expect(within(v2).queryByTestId('train-again')).toBeNull();

    await fireEvent.click(within(v1).getByTestId('train-again'));
    expect(session.screen).toBe('train');
    expect(session.retrain).toEqual({ version: 1, classes: ['walking', 'stairs'], reason: REASON });
  });

  it('cannot be flashed over Bluetooth or USB, says why, and a firmware file still can', async () => {
    vi.mocked(core.dataOverview).mockResolvedValue(overview(old));
    render(Flash);
    expect(await screen.findByTestId('outdated-badge')).toHaveTextContent(REASON);
    const flash = screen.getByRole('button', { name: 'Flash' });
    expect(flash).toBeDisabled();
    expect(flash).toHaveAttribute('title', SENTENCE);
    expect(flash).toHaveAccessibleDescription(SENTENCE);
    expect(screen.getByTestId('flash-blocked')).toHaveTextContent(SENTENCE);
    await fireEvent.click(flash);
    expect(core.startFlash).not.toHaveBeenCalled();

    await fireEvent.click(screen.getByRole('radio', { name: /over USB cable/ }));
    expect(screen.getByRole('button', { name: 'Flash' })).toBeDisabled();
    await fireEvent.input(screen.getByRole('textbox', { name: /Firmware image file instead/ }), {
      target: { value: '/tmp/bandx.bin' },
    });
    expect(screen.getByRole('button', { name: 'Flash' })).toBeEnabled();
    expect(screen.queryByTestId('flash-blocked')).toBeNull();
  });

  it('a current model is flashed as before', async () => {
    vi.mocked(core.dataOverview).mockResolvedValue(overview(old, current));
    render(Flash);
    expect(await screen.findByText(/Model v2: walking, typing/)).toBeInTheDocument();
    expect(screen.queryByTestId('outdated-badge')).toBeNull();
    expect(screen.getByRole('button', { name: 'Flash' })).toBeEnabled();
  });

  it('"Train again" on the Flash screen opens Train with that model\'s classes preselected', async () => {
    vi.mocked(core.dataOverview).mockResolvedValue(overview(old));
    resetSession({ profile, band: { ...virtualBand }, screen: 'flash' });
    render(App);
    await fireEvent.click(await screen.findByTestId('train-again'));

    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Train');
    expect(screen.getByRole('button', { name: 'Train' })).toHaveAttribute('aria-current', 'page');
    const note = screen.getByTestId('retrain-note');
    expect(note).toHaveTextContent('Training again to replace model v1 (walking, stairs)');
    expect(note).toHaveTextContent(REASON);
    // "stairs" has no recordings in the profile any more: said, with the way to record it.
    expect(await screen.findByTestId('retrain-missing')).toHaveTextContent('No longer in this profile: stairs.');
    // Only walking of that model is still here: ticked; typing is not, and one is not enough.
    const walking = (await screen.findByRole('checkbox', { name: /walking/ })) as HTMLInputElement;
    const typing = screen.getByRole('checkbox', { name: /typing/ }) as HTMLInputElement;
    expect([walking.checked, typing.checked]).toEqual([true, false]);
    expect(screen.getByTestId('train')).toBeDisabled();

    await fireEvent.click(typing);
    await fireEvent.click(screen.getByTestId('train'));
    expect(core.startTraining).toHaveBeenCalledWith(7, false, [1, 2]);
  });

  it('as the latest result on the Train screen: badge, and no "flash it" step', async () => {
    const result: TrainResult = {
      model: 4,
      version: 1,
      classes: ['walking', 'typing'],
      method: 'Personalized on your windows',
      personal_accuracy: 0.9,
      generic_accuracy: null,
      generic_among_user_classes: null,
      generic_unknown: [],
      warnings: [],
      confusion_svg: '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>',
      blob_bytes: 7480,
      created_at_ms: 0,
      outdated: REASON,
    };
    vi.mocked(core.latestModelResult).mockResolvedValue(result);
    render(Train);
    const card = await screen.findByTestId('train-result');
    expect(within(card).getByTestId('outdated-badge')).toHaveTextContent(REASON);
    expect(within(card).queryByRole('button', { name: /flash it/ })).toBeNull();
    await fireEvent.click(within(card).getByTestId('train-again'));
    expect(screen.getByTestId('retrain-note')).toHaveTextContent('replace model v1 (walking, typing)');
    expect(screen.queryByTestId('retrain-missing')).toBeNull();
  });
});
