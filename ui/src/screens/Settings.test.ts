import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { resetSession, uiError } from '../test/fixtures';
import Settings from './Settings.svelte';

vi.mock('../lib/core');

describe('Settings screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession();
  });

  it('shows where the logs are and opens their folder', async () => {
    vi.mocked(core.logsFolder).mockResolvedValue('/data/logs');
    vi.mocked(core.openLogsFolder).mockResolvedValue('/data/logs');
    render(Settings);
    expect(await screen.findByTestId('logs-folder')).toHaveTextContent('/data/logs');
    await fireEvent.click(screen.getByRole('button', { name: 'Open logs folder' }));
    expect(core.openLogsFolder).toHaveBeenCalledOnce();
    expect(await screen.findByTestId('settings-notice')).toHaveTextContent('Opened /data/logs');
  });

  it('says so when the folder cannot be opened', async () => {
    vi.mocked(core.openLogsFolder).mockRejectedValue(uiError('open_folder', 'Cannot open the folder /data/logs.', 'Open it yourself.'));
    render(Settings);
    await fireEvent.click(screen.getByRole('button', { name: 'Open logs folder' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Cannot open the folder /data/logs.');
  });
});
