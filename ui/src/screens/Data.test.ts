import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import type { ActivityHistoryView, DataOverview } from '../lib/types';
import { profile, resetSession, uiError } from '../test/fixtures';
import Data from './Data.svelte';

vi.mock('../lib/core');

const overview: DataOverview = {
  recordings: [
    { id: 1, class: 'walking', started_at_ms: 0, samples: 600, seconds: 30, good_windows: 15, rejected_windows: 2 },
    { id: 2, class: null, started_at_ms: 0, samples: 200, seconds: 10, good_windows: 0, rejected_windows: 0 },
  ],
  models: [
    { id: 5, version: 1, classes: ['walking', 'typing'], created_at_ms: 0, bytes: 7480, personal_accuracy: 0.97, outdated: null },
  ],
  deployments: [
    {
      id: 9,
      profile: 1,
      model: 5,
      band: 1,
      transport: 'ble_model',
      status: 'verified',
      started_at_ms: 0,
      finished_at_ms: 1,
      bytes_total: 7480,
      bytes_sent: 7480,
      resumed_count: 0,
      error: null,
      model_version: 1,
      band_name: 'BandX Sim',
    },
  ],
};

const history = (day: number): ActivityHistoryView => ({
  days: ['2026-12-03', '2026-12-04', '2026-12-05'],
  classes: ['sitting', 'walking'],
  minutes: [
    [30, 12.5],
    [0, 0],
    [0, 4],
  ],
  day,
  day_svg: `<svg xmlns="http://www.w3.org/2000/svg"><title>day ${day}</title></svg>`,
  day_rows:
    day === 0
      ? [
          { label: 'sitting', band_log_minutes: 30, live_minutes: 0 },
          { label: 'walking', band_log_minutes: 10, live_minutes: 2.5 },
          { label: 'not worn', band_log_minutes: 45, live_minutes: 0 },
        ]
      : [],
  time_unknown_minutes: 3,
});

describe('Data screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession({ profile });
    vi.mocked(core.dataOverview).mockResolvedValue(overview);
  });

  it('lists recordings, models and deployments', async () => {
    render(Data);
    const recordings = await screen.findByRole('table', { name: 'Recordings' });
    expect(within(recordings).getByText('15 good, 2 rejected')).toBeInTheDocument();
    expect(within(recordings).getByText('(free recording)')).toBeInTheDocument();
    const models = screen.getByRole('table', { name: 'Models' });
    expect(within(models).getByText('walking, typing')).toBeInTheDocument();
    expect(within(models).getByText('97 %')).toBeInTheDocument();
    const deployments = screen.getByRole('table', { name: 'Deployments' });
    expect(within(deployments).getByText('verified')).toBeInTheDocument();
    expect(within(deployments).getByText('model v1')).toBeInTheDocument();
  });

  it("shows the merged history per day and any day's timeline with its sources", async () => {
    vi.mocked(core.activityHistory).mockImplementation(async (_p, _d, day) => history(day ?? 2));
    render(Data);
    const table = await screen.findByRole('table', { name: 'Activity history' });
    const rows = within(table).getAllByRole('row');
    // Days with activity only, newest first.
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringContaining('sitting'),
      expect.stringContaining('2026-12-05'),
      expect.stringContaining('2026-12-03'),
    ]);
    expect(within(rows[2]).getByText('12.5')).toBeInTheDocument();
    expect(core.activityHistory).toHaveBeenLastCalledWith(7, 14, null, false);
    expect(screen.getByText('Nothing recorded on 2026-12-05.')).toBeInTheDocument();
    expect(screen.getByTestId('history-time-unknown')).toHaveTextContent('3 synced minutes have no time');

    await fireEvent.click(within(rows[2]).getByRole('button', { name: 'Timeline' }));
    expect(core.activityHistory).toHaveBeenLastCalledWith(7, 14, 0, false);
    const img = await screen.findByRole('img', { name: 'Activity on 2026-12-03' });
    expect(decodeURIComponent(img.getAttribute('src') ?? '')).toContain('day 0');
    const sources = screen.getByRole('table', { name: 'Minutes on 2026-12-03' });
    expect(within(sources).getByText('not worn')).toBeInTheDocument();
    expect(within(sources).getByText('2.5')).toBeInTheDocument();

    await fireEvent.change(screen.getByTestId('history-day'), { target: { value: '1' } });
    expect(core.activityHistory).toHaveBeenLastCalledWith(7, 14, 1, false);
  });

  it('deletes a recording only after confirmation, then reloads', async () => {
    render(Data);
    const recordings = await screen.findByRole('table', { name: 'Recordings' });
    const row = within(recordings).getAllByRole('row')[1];
    await fireEvent.click(within(row).getByRole('button', { name: 'Delete' }));
    expect(core.deleteRecording).not.toHaveBeenCalled();
    const confirm = within(row).getByRole('group', { name: 'Delete this recording?' });
    expect(within(confirm).getByRole('button', { name: 'Delete' })).toHaveFocus();
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(core.deleteRecording).not.toHaveBeenCalled();

    await fireEvent.click(within(row).getByRole('button', { name: 'Delete' }));
    await fireEvent.click(within(row).getByRole('button', { name: 'Delete' }));
    expect(core.deleteRecording).toHaveBeenCalledWith(1);
    await vi.waitFor(() => expect(core.dataOverview).toHaveBeenCalledTimes(2));
  });

  it('exports to a folder and imports one as the selected profile', async () => {
    vi.mocked(core.exportProfile).mockResolvedValue('/home/ana/bandx-ana');
    vi.mocked(core.importProfile).mockResolvedValue({ id: 8, name: 'Ana (2)', created_at_ms: 0 });
    render(Data);
    await fireEvent.input(screen.getByRole('textbox', { name: 'Export to a new folder' }), {
      target: { value: '~/bandx-ana' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(core.exportProfile).toHaveBeenCalledWith(7, '~/bandx-ana');
    expect(await screen.findByTestId('data-notice')).toHaveTextContent('Exported Ana to /home/ana/bandx-ana.');

    await fireEvent.input(screen.getByRole('textbox', { name: 'Import a profile from folder' }), {
      target: { value: '/media/usb/bandx-ana' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect(core.importProfile).toHaveBeenCalledWith('/media/usb/bandx-ana');
    await vi.waitFor(() => expect(session.profile?.name).toBe('Ana (2)'));
  });

  it('exports and imports through the system dialogs, and a cancelled dialog does nothing', async () => {
    vi.mocked(core.exportProfile).mockResolvedValue('/home/ana/bandx-Ana');
    vi.mocked(core.importProfile).mockResolvedValue({ id: 8, name: 'Ana (2)', created_at_ms: 0 });
    vi.mocked(core.pickPath).mockResolvedValueOnce('/home/ana/bandx-Ana').mockResolvedValueOnce(null);
    render(Data);
    await fireEvent.click(screen.getByRole('button', { name: 'Choose where to export…' }));
    expect(core.pickPath).toHaveBeenCalledWith('export_folder', 'bandx-Ana');
    await vi.waitFor(() => expect(core.exportProfile).toHaveBeenCalledWith(7, '/home/ana/bandx-Ana'));
    expect(await screen.findByTestId('data-notice')).toHaveTextContent('Exported Ana to /home/ana/bandx-Ana.');

    await fireEvent.click(screen.getByRole('button', { name: 'Choose a folder to import…' }));
    await vi.waitFor(() => expect(core.pickPath).toHaveBeenCalledWith('import_folder'));
    expect(core.importProfile).not.toHaveBeenCalled();

    vi.mocked(core.pickPath).mockResolvedValueOnce('/media/usb/bandx-ana');
    await fireEvent.click(screen.getByRole('button', { name: 'Choose a folder to import…' }));
    await vi.waitFor(() => expect(core.importProfile).toHaveBeenCalledWith('/media/usb/bandx-ana'));
    await vi.waitFor(() => expect(session.profile?.name).toBe('Ana (2)'));
  });

  it('shows why an export failed and what to do', async () => {
    vi.mocked(core.exportProfile).mockRejectedValue(
      uiError(
        'archive',
        'export destination /tmp/x already exists.',
        'Choose a folder name that does not exist yet; it will be created.',
      ),
    );
    render(Data);
    await fireEvent.input(screen.getByRole('textbox', { name: 'Export to a new folder' }), { target: { value: '/tmp/x' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Export' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Choose a folder name that does not exist yet');
  });

  it('deletes the whole profile after confirmation', async () => {
    render(Data);
    await screen.findByRole('table', { name: 'Recordings' });
    await fireEvent.click(screen.getByRole('button', { name: 'Delete profile Ana' }));
    const confirm = screen.getByRole('group', { name: /Delete Ana and all its recordings/ });
    await fireEvent.click(within(confirm).getByRole('button', { name: 'Delete' }));
    expect(core.deleteProfile).toHaveBeenCalledWith(7);
    await vi.waitFor(() => expect(session.profile).toBeNull());
  });
});
