import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import type { ClassView } from '../lib/types';
import { emit } from '../test/fake-events';
import { profile, resetSession, uiError, virtualBand } from '../test/fixtures';
import Calibrate from './Calibrate.svelte';

vi.mock('../lib/core');

const walking: ClassView = { id: 21, name: 'walking', good_windows: 0 };
const typing: ClassView = { id: 22, name: 'typing', good_windows: 15 };

describe('Calibrate screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession();
  });

  it('creates a profile and adds activities', async () => {
    vi.mocked(core.createProfile).mockResolvedValue(profile);
    vi.mocked(core.addClass).mockResolvedValue(walking);
    render(Calibrate);

    await fireEvent.input(screen.getByRole('textbox', { name: 'New profile' }), { target: { value: 'Ana' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Create profile' }));
    expect(core.createProfile).toHaveBeenCalledWith('Ana');
    expect(await screen.findByRole('heading', { name: 'Activities of Ana' })).toBeInTheDocument();
    expect(session.profile).toEqual(profile);

    await fireEvent.input(screen.getByRole('textbox', { name: 'New activity' }), { target: { value: 'walking' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add activity' }));
    expect(core.addClass).toHaveBeenCalledWith(7, 'walking');
    const item = await screen.findByTestId('class-walking');
    expect(item).toHaveTextContent('0/15');
  });

  it('shows a refused name as a sentence with the next step', async () => {
    resetSession({ profile });
    vi.mocked(core.addClass).mockRejectedValue(
      uiError('exists', 'This profile already has a class named "walking".', 'Pick another name.'),
    );
    render(Calibrate);
    await fireEvent.input(screen.getByRole('textbox', { name: 'New activity' }), { target: { value: 'Walking' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add activity' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'This profile already has a class named "walking". Pick another name.',
    );
  });

  it('renames, and deletes only after confirmation', async () => {
    resetSession({ profile });
    vi.mocked(core.listClasses).mockResolvedValue([walking]);
    render(Calibrate);
    const item = await screen.findByTestId('class-walking');

    await fireEvent.click(within(item).getByRole('button', { name: 'Rename' }));
    await fireEvent.input(within(item).getByRole('textbox', { name: 'New name for walking' }), {
      target: { value: 'strolling' },
    });
    await fireEvent.click(within(item).getByRole('button', { name: 'Save' }));
    expect(core.renameClass).toHaveBeenCalledWith(21, 'strolling');

    const again = await screen.findByTestId('class-walking');
    await fireEvent.click(within(again).getByRole('button', { name: 'Delete' }));
    expect(core.deleteClass).not.toHaveBeenCalled();
    const confirm = within(again).getByRole('group', { name: 'Delete walking and its recordings?' });
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Delete' }));
    expect(core.deleteClass).toHaveBeenCalledWith(21);
  });

  it('cannot record without a band', async () => {
    resetSession({ profile });
    vi.mocked(core.listClasses).mockResolvedValue([walking]);
    render(Calibrate);
    const item = await screen.findByTestId('class-walking');
    expect(within(item).getByRole('button', { name: 'Record walking' })).toBeDisabled();
    expect(screen.getByText(/Connect a band to record/)).toBeInTheDocument();
  });

  it('guides a recording: countdown, live chart, 0/15 counter, quality marks with reasons, discard, done', async () => {
    resetSession({ profile, band: virtualBand });
    vi.mocked(core.listClasses).mockResolvedValue([walking, typing]);
    render(Calibrate);
    const item = await screen.findByTestId('class-walking');
    expect(within(screen.getByTestId('class-typing')).getByRole('button', { name: 'Record typing' })).toBeDisabled();

    await fireEvent.click(within(item).getByRole('button', { name: 'Record walking' }));
    expect(core.startCalibration).toHaveBeenCalledWith(7, 21, false);
    const recorder = await screen.findByRole('article', { name: 'Recording walking' });

    emit('calibrate:event', { kind: 'progress', class: 21, good_count: 0, needed: 15 });
    emit('calibrate:event', { kind: 'countdown', class: 21, seconds_left: 3 });
    await tick();
    expect(within(recorder).getByTestId('countdown')).toHaveTextContent('3');
    expect(within(recorder).getByTestId('window-counter')).toHaveTextContent('0/15 good windows');

    emit('imu:samples', { samples: [[0, 0, 0, 9.8, 0, 0, 0], [50, 0.1, 0, 9.7, 0.2, 0, 0]] });
    emit('calibrate:event', { kind: 'recording', class: 21 });
    emit('calibrate:event', { kind: 'window', class: 21, index: 0, window: 301, good: true, reason: null });
    emit('calibrate:event', {
      kind: 'window',
      class: 21,
      index: 1,
      window: null,
      good: false,
      reason: '2 frames were lost in this window',
    });
    emit('calibrate:event', { kind: 'progress', class: 21, good_count: 1, needed: 15 });
    // Events for another class are not this session's.
    emit('calibrate:event', { kind: 'progress', class: 99, good_count: 9, needed: 15 });
    await tick();
    expect(within(recorder).getByText(/Recording — keep going/)).toBeInTheDocument();
    expect(within(recorder).getByTestId('window-counter')).toHaveTextContent('1/15 good windows');
    // The chart's animation loop picks the samples up on its next frame.
    await vi.waitFor(() => expect(within(recorder).getByTestId('imu-chart')).toHaveAttribute('data-samples', '2'));
    const marks = within(recorder).getByRole('list', { name: 'Windows' });
    expect(marks).toHaveTextContent('Window 1: good');
    expect(marks).toHaveTextContent('Window 2: 2 frames were lost in this window');

    await fireEvent.click(within(marks).getByRole('button', { name: 'Discard' }));
    expect(core.discardWindow).toHaveBeenCalledWith(301);
    expect(within(recorder).getByTestId('window-counter')).toHaveTextContent('0/15 good windows');

    emit('calibrate:event', { kind: 'paused', class: 21, message: 'the connection to the band was lost' });
    await tick();
    expect(recorder).toHaveTextContent('Paused: the connection to the band was lost');

    await fireEvent.click(within(recorder).getByRole('button', { name: 'Stop' }));
    expect(core.cancelJob).toHaveBeenCalledWith('calibrate');

    vi.mocked(core.listClasses).mockResolvedValue([{ ...walking, good_windows: 15 }, typing]);
    emit('calibrate:event', { kind: 'done', class: 21, good_count: 15, needed: 15 });
    emit('calibrate:done', { outcome: 'ok', result: { good: 15, needed: 15 } });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: 'Next: train' })).toBeInTheDocument());
    expect(recorder).toHaveAttribute('data-phase', 'done');
  });

  it('leaving the screen stops a running recording', async () => {
    resetSession({ profile, band: virtualBand });
    vi.mocked(core.listClasses).mockResolvedValue([walking]);
    const { unmount } = render(Calibrate);
    const item = await screen.findByTestId('class-walking');
    await fireEvent.click(within(item).getByRole('button', { name: 'Record walking' }));
    await screen.findByRole('article', { name: 'Recording walking' });
    unmount();
    expect(core.cancelJob).toHaveBeenCalledWith('calibrate');
  });

  it('re-records a class by discarding its recordings first', async () => {
    resetSession({ profile, band: virtualBand });
    vi.mocked(core.listClasses).mockResolvedValue([{ ...walking, good_windows: 4 }]);
    render(Calibrate);
    const item = await screen.findByTestId('class-walking');
    await fireEvent.click(within(item).getByRole('button', { name: 'Re-record' }));
    expect(core.discardClassRecordings).toHaveBeenCalledWith(21);
    expect(core.startCalibration).toHaveBeenCalledWith(7, 21, false);
  });
});
