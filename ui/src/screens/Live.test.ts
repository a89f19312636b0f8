import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { emit, listeners } from '../test/fake-events';
import { profile, resetSession, virtualBand } from '../test/fixtures';
import Live from './Live.svelte';

vi.mock('../lib/core');

const summary = {
  timeline_svg: '<svg xmlns="http://www.w3.org/2000/svg"/>',
  day_svg: '<svg xmlns="http://www.w3.org/2000/svg"><title>today</title></svg>',
  today: [
    { class: 'typing', minutes: 12.5 },
    { class: 'walking', minutes: 3 },
  ],
};

describe('Live screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession({ profile, band: { ...virtualBand, kind: 'bluetooth' } });
    vi.mocked(core.liveSummary).mockResolvedValue(summary);
  });

  it("shows the band's current activity large with its confidence, the last hour and today's totals", async () => {
    render(Live);
    expect(await screen.findByRole('img', { name: 'Activity timeline of the last hour' })).toBeInTheDocument();
    const day = screen.getByRole('img', { name: /Today's activity since midnight/ });
    expect(decodeURIComponent(day.getAttribute('src') ?? '')).toContain('<title>today</title>');
    const today = screen.getByRole('table', { name: "Today's totals" });
    expect(within(today).getByText('12.5')).toBeInTheDocument();

    await fireEvent.click(screen.getByRole('button', { name: 'Start live view' }));
    expect(core.startLive).toHaveBeenCalledWith(7);
    expect(screen.getByText(/Waiting for the band/)).toBeInTheDocument();

    emit('live:prediction', { window_seq: 41, t_ms: 1, class: 'walking', confidence: 0.934 });
    await tick();
    expect(screen.getByTestId('live-activity')).toHaveTextContent('walking');
    expect(screen.getByTestId('live-current')).toHaveTextContent('93 % sure');

    emit('live:shadow', { window_seq: 41, agree: false, rate: 0.98 });
    await tick();
    expect(screen.getByTestId('live-current')).toHaveTextContent("the desktop's check disagrees");
    expect(screen.getByTestId('agreement')).toHaveTextContent('agree on 98 % of windows');
  });

  it('stops, and stops when the screen is left', async () => {
    const { unmount } = render(Live);
    await fireEvent.click(screen.getByRole('button', { name: 'Start live view' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Stop' }));
    expect(core.cancelJob).toHaveBeenCalledWith('live');
    emit('live:done', {
      outcome: 'cancelled',
      error: { code: 'cancelled', message: 'The live view was cancelled.', next_step: 'Start it again.' },
    });
    await tick();
    vi.mocked(core.cancelJob).mockClear();

    await fireEvent.click(screen.getByRole('button', { name: 'Start live view' }));
    expect(listeners('live:prediction')).toBe(1);
    unmount();
    expect(core.cancelJob).toHaveBeenCalledWith('live');
    await vi.waitFor(() => expect(listeners('live:prediction')).toBe(0));
  });

  it('says when the band is lost and being reconnected, and dims the last activity until it is back', async () => {
    render(Live);
    await fireEvent.click(screen.getByRole('button', { name: 'Start live view' }));
    emit('live:prediction', { window_seq: 3, t_ms: 1, class: 'typing', confidence: 0.8 });
    await tick();
    expect(screen.queryByTestId('live-paused')).not.toBeInTheDocument();

    emit('live:link', { paused: true, reason: 'The band sent no prediction for 15 s' });
    await tick();
    expect(screen.getByTestId('live-paused')).toHaveTextContent(
      'The band sent no prediction for 15 s: reconnecting… What is shown below is the last activity the band reported.',
    );
    expect(screen.getByTestId('live-current')).toHaveClass('stale');
    expect(screen.getByTestId('live-activity')).toHaveTextContent('typing');

    emit('live:link', { paused: false, reason: null });
    await tick();
    expect(screen.queryByTestId('live-paused')).not.toBeInTheDocument();
    expect(screen.getByTestId('live-current')).not.toHaveClass('stale');
  });

  it('explains a band without a model', async () => {
    render(Live);
    await fireEvent.click(screen.getByRole('button', { name: 'Start live view' }));
    emit('live:done', {
      outcome: 'failed',
      error: {
        code: 'no_model',
        message: 'The band has no model to recognize activities with.',
        next_step: 'Train a model and flash it on the Flash screen.',
      },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('Train a model and flash it on the Flash screen.');
  });

  it('needs a connected band', () => {
    resetSession({ profile });
    render(Live);
    expect(screen.getByRole('button', { name: 'Start live view' })).toBeDisabled();
  });

  it("syncs the band's own log with progress, says what it stored and when, and about minutes of unknown time", async () => {
    let finish: (v: unknown) => void = () => undefined;
    vi.mocked(core.syncBand).mockImplementation(
      () =>
        new Promise((resolve) => {
          finish = resolve;
        }) as never,
    );
    render(Live);
    await fireEvent.click(screen.getByRole('button', { name: "Sync the band's log" }));
    expect(core.syncBand).toHaveBeenCalledWith(profile.id);
    expect(screen.getByRole('button', { name: 'Syncing…' })).toBeDisabled();
    emit('sync:progress', { stored: 40, total: 120 });
    expect(await screen.findByTestId('sync-progress')).toHaveTextContent('40 of 120');

    finish({ stored: 118, gap: [3, 9], timeUnknown: 2, lastSyncedMs: Date.UTC(2026, 11, 5, 9, 30) });
    const result = await screen.findByTestId('sync-result');
    expect(result).toHaveTextContent('Synced 118 new minutes');
    expect(result).toHaveTextContent('last synced at');
    expect(result).toHaveTextContent('2 of them were recorded after the band restarted');
    expect(result).toHaveTextContent('minutes 3–9 were overwritten');
    expect(core.liveSummary).toHaveBeenCalledTimes(2);
  });

  it('cannot sync without a band, and shows why a sync failed', async () => {
    resetSession({ profile, band: null });
    render(Live);
    expect(screen.getByRole('button', { name: "Sync the band's log" })).toBeDisabled();
  });
});
