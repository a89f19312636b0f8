import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import type { TrainResult } from '../lib/types';
import { emit } from '../test/fake-events';
import { profile, resetSession } from '../test/fixtures';
import Train from './Train.svelte';

vi.mock('../lib/core');

const result: TrainResult = {
  model: 3,
  version: 2,
  classes: ['walking', 'typing', 'writing'],
  method: 'Fine-tuned on your windows, with other recordings mixed in',
  personal_accuracy: 0.933,
  generic_accuracy: 0.412,
  generic_among_user_classes: 0.6,
  generic_unknown: [],
  warnings: ['"typing" and "writing" are too alike to tell apart (40 % of "typing" taken for "writing", 33 % the other way); record them more differently or merge them'],
  confusion_svg: '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
  blob_bytes: 7480,
  created_at_ms: 1_700_000_000_000,
  outdated: null,
};

describe('Train screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession({ profile });
    vi.mocked(core.listClasses).mockResolvedValue([
      { id: 1, name: 'walking', good_windows: 15 },
      { id: 2, name: 'typing', good_windows: 15 },
    ]);
  });

  it('asks for a profile first', () => {
    resetSession();
    render(Train);
    expect(screen.getByText(/Choose or create a profile first/)).toBeInTheDocument();
  });

  it('trains with one click, shows progress, then personal vs generic accuracy, the matrix and the warning', async () => {
    render(Train);
    await vi.waitFor(() => expect(core.latestModelResult).toHaveBeenCalledWith(7, false));
    await fireEvent.click(screen.getByRole('button', { name: 'Train my model' }));
    expect(core.startTraining).toHaveBeenCalledWith(7, false, [1, 2]);
    expect(screen.getByRole('button', { name: 'Training…' })).toBeDisabled();

    emit('train:progress', { stage: 'cross_validation', fold: 1, folds: 5, fraction: 0.34 });
    await tick();
    expect(screen.getByRole('progressbar', { name: 'Training progress' })).toHaveAttribute('value', '0.34');
    expect(screen.getByTestId('train-progress')).toHaveTextContent('Estimating accuracy (round 2 of 5)…');

    emit('train:done', { outcome: 'ok', result });
    const card = await screen.findByRole('article', { name: 'Training result' });
    expect(within(card).getByTestId('personal-accuracy')).toHaveTextContent('93 %');
    expect(within(card).getByTestId('generic-accuracy')).toHaveTextContent('41 %');
    expect(within(card).getByTestId('train-method')).toHaveTextContent('other recordings mixed in.');
    expect(within(card).getByRole('alert')).toHaveTextContent('"typing" and "writing" are too alike');
    const img = within(card).getByRole('img', { name: /Confusion matrix/ });
    expect(img.getAttribute('src')).toMatch(/^data:image\/svg\+xml;charset=utf-8,%3Csvg/);
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
  });

  it('says when the generic model cannot be compared', async () => {
    vi.mocked(core.latestModelResult).mockResolvedValueOnce({
      ...result,
      generic_accuracy: null,
      generic_among_user_classes: null,
      generic_unknown: ['piano'],
      warnings: [],
    });
    render(Train);
    expect(await screen.findByText('the generic model does not know piano')).toBeInTheDocument();
  });

  it('shows a failure with its next step and a way to fix it', async () => {
    render(Train);
    await fireEvent.click(screen.getByRole('button', { name: 'Train my model' }));
    emit('train:done', {
      outcome: 'failed',
      error: {
        code: 'train',
        message: 'Class "typing" has 9 good calibration windows; at least 15 are needed.',
        next_step: 'Record more of it on the Calibrate screen.',
      },
    });
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('at least 15 are needed. Record more of it on the Calibrate screen.');
    await fireEvent.click(within(alert).getByRole('button', { name: 'Go to Calibrate' }));
    expect(session.screen).toBe('calibrate');
  });

  it('redraws the confusion matrix for the dark theme', async () => {
    render(Train);
    await vi.waitFor(() => expect(core.latestModelResult).toHaveBeenCalledWith(7, false));
    session.theme = 'dark';
    await vi.waitFor(() => expect(core.latestModelResult).toHaveBeenCalledWith(7, true));
  });

  it('trains the ticked activities; a short one cannot be ticked, and fewer than 2 cannot train', async () => {
    vi.mocked(core.listClasses).mockResolvedValue([
      { id: 1, name: 'walking', good_windows: 15 },
      { id: 2, name: 'boxing', good_windows: 4 },
      { id: 3, name: 'typing', good_windows: 20 },
      { id: 4, name: 'writing', good_windows: 15 },
    ]);
    render(Train);
    const walking = await screen.findByRole('checkbox', { name: /walking/ });
    const boxing = screen.getByRole('checkbox', { name: /boxing/ });
    const typing = screen.getByRole('checkbox', { name: /typing/ });
    const writing = screen.getByRole('checkbox', { name: /writing/ });
    // Every activity with enough windows is ticked; the short one says what it needs.
    expect([walking, boxing, typing, writing].map((c) => (c as HTMLInputElement).checked)).toEqual([true, false, true, true]);
    expect(boxing).toBeDisabled();
    expect(screen.getAllByTestId('train-class')[1]).toHaveTextContent('boxing (4/15): record 11 more to include it');
    expect(screen.queryByTestId('train-choose')).toBeNull();

    await fireEvent.click(walking);
    await fireEvent.click(writing);
    expect(screen.getByRole('button', { name: 'Train my model' })).toBeDisabled();
    expect(screen.getByTestId('train-choose')).toHaveTextContent('at least 2 activities with 15 good windows each');

    // Ticked again out of order: sent in the profile's order.
    await fireEvent.click(writing);
    await fireEvent.click(walking);
    await fireEvent.click(screen.getByRole('button', { name: 'Train my model' }));
    expect(core.startTraining).toHaveBeenCalledWith(7, false, [1, 3, 4]);
  });

  it('cancels', async () => {
    render(Train);
    await fireEvent.click(screen.getByRole('button', { name: 'Train my model' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(core.cancelJob).toHaveBeenCalledWith('train');
    emit('train:done', {
      outcome: 'cancelled',
      error: { code: 'cancelled', message: 'Training was cancelled.', next_step: 'Start it again when you are ready.' },
    });
    expect(await screen.findByRole('status')).toHaveTextContent('Training was cancelled.');
    expect(screen.getByRole('button', { name: 'Train my model' })).toBeEnabled();
  });
});
