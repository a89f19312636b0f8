import { fireEvent, render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import type { SettingsView } from '../lib/types';
import { resetSession, uiError } from '../test/fixtures';
import Settings from './Settings.svelte';

vi.mock('../lib/core');

const base: SettingsView = {
  settings: { data_dir: null, serial_port: null, theme: 'system', band: 'AA:BB:CC:DD:EE:FF', last_folder: null },
  problem: null,
  data_dir: '/data',
  data_dir_fixed: false,
  logs_folder: '/data/logs',
  settings_file: '/conf/settings.toml',
};

describe('Settings screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession();
    vi.mocked(core.getSettings).mockResolvedValue(base);
    vi.mocked(core.serialPorts).mockResolvedValue([
      { path: '/dev/ttyUSB0', usb_id: '10c4:ea60', bridge: 'Silicon Labs CP210x', product: null },
      { path: '/dev/ttyS0', usb_id: null, bridge: null, product: null },
    ]);
  });

  it('shows where the logs are and opens their folder', async () => {
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

  it('lists the serial ports with the ESP32 bridge named and saves the choice', async () => {
    render(Settings);
    const select = await screen.findByRole('combobox', { name: 'Port for flashing over USB' });
    expect(await screen.findByRole('option', { name: '/dev/ttyUSB0 — Silicon Labs CP210x (10c4:ea60)' })).toBeInTheDocument();
    expect(screen.getByRole('option', { name: '/dev/ttyS0' })).toBeInTheDocument();
    await fireEvent.change(select, { target: { value: '/dev/ttyUSB0' } });
    expect(core.setSetting).toHaveBeenCalledWith('serial_port', '/dev/ttyUSB0');
  });

  it('forgets the remembered band', async () => {
    vi.mocked(core.forgetBand).mockResolvedValue({ ...base, settings: { ...base.settings, band: null } });
    render(Settings);
    expect(await screen.findByTestId('remembered-band')).toHaveTextContent('AA:BB:CC:DD:EE:FF');
    await fireEvent.click(screen.getByRole('button', { name: 'Forget this band' }));
    expect(await screen.findByTestId('no-band')).toBeInTheDocument();
  });

  it('moves the data folder through the dialog and says the old folder is kept', async () => {
    vi.mocked(core.pickPath).mockResolvedValueOnce('/big/disk/bandx');
    vi.mocked(core.moveDataDir).mockResolvedValue({
      view: { ...base, data_dir: '/big/disk/bandx', logs_folder: '/big/disk/bandx/logs' },
      old_dir: '/data',
      files: 3,
      rows: 120,
    });
    render(Settings);
    await screen.findByTestId('data-dir');
    await fireEvent.click(screen.getByRole('button', { name: 'Move data…' }));
    expect(core.pickPath).toHaveBeenCalledWith('data_folder');
    await vi.waitFor(() => expect(core.moveDataDir).toHaveBeenCalledWith('/big/disk/bandx'));
    expect(await screen.findByTestId('settings-notice')).toHaveTextContent('The old folder /data is kept');
    expect(screen.getByTestId('data-dir')).toHaveTextContent('/big/disk/bandx');
  });

  it('a bad settings file is said plainly, and the theme can still be chosen', async () => {
    vi.mocked(core.getSettings).mockResolvedValue({
      ...base,
      problem: '/conf/settings.toml is not a valid settings file (line 1). BandX Studio uses the default settings until you save new ones.',
    });
    render(Settings);
    expect(await screen.findByTestId('settings-problem')).toHaveTextContent('uses the default settings');
    await fireEvent.change(screen.getByRole('combobox', { name: 'Colours' }), { target: { value: 'dark' } });
    expect(core.setSetting).toHaveBeenCalledWith('theme', 'dark');
  });
});
