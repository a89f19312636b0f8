import { fireEvent, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import { emit } from '../test/fake-events';
import { profile, resetSession, virtualBand } from '../test/fixtures';
import Flash from './Flash.svelte';

vi.mock('../lib/core');

const model = { id: 3, version: 2, classes: ['walking', 'typing'], created_at_ms: 0, bytes: 7480, personal_accuracy: 1, outdated: null };

describe('Flash screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession({ profile, band: { ...virtualBand } });
    vi.mocked(core.dataOverview).mockResolvedValue({ recordings: [], models: [model], deployments: [] });
  });

  it('flashes the newest model over Bluetooth by default, with speed and ETA, and shows the verified result', async () => {
    render(Flash);
    expect(await screen.findByText('Model v2: walking, typing (7.3 KB)')).toBeInTheDocument();
    expect(screen.getByRole('radio', { name: /Model only, over Bluetooth/ })).toBeChecked();

    await fireEvent.click(screen.getByRole('button', { name: 'Flash' }));
    expect(core.startFlash).toHaveBeenCalledWith({ profile: 7, transport: 'ble_model', file: null, port: null, allow_downgrade: false });

    emit('flash:progress', {
      stage: 'Sending',
      bytes_sent: 4096,
      bytes_total: 8192,
      bytes_per_sec: 2048,
      eta_secs: 2,
      reconnects: 1,
    });
    await tick();
    expect(screen.getByTestId('flash-progress')).toHaveTextContent(
      'Sending: 4.0 KB of 8.0 KB, 2.0 KB/s, 2 s left, resumed 1×',
    );
    expect(screen.getByRole('progressbar', { name: 'Bytes sent' })).toHaveAttribute('value', '4096');

    emit('flash:done', {
      outcome: 'ok',
      result: {
        transport: 'ble_model',
        bytes: 7480,
        seconds: 3.2,
        bytes_per_sec: 2337,
        reconnects: 1,
        firmware: 'sim-0.1.0',
        model: { id: 7, version: 2, classes: ['walking', 'typing'] },
      },
    });
    const done = await screen.findByTestId('flash-result');
    expect(done).toHaveTextContent('Verified: the band runs model v2 (walking, typing).');
    expect(done).toHaveTextContent('resumed after 1 dropped connection(s)');
    expect(session.band?.model?.classes).toEqual(['walking', 'typing']);
  });

  it('on failure says the band keeps its previous model', async () => {
    render(Flash);
    await screen.findByText(/Model v2/);
    await fireEvent.click(screen.getByRole('button', { name: 'Flash' }));
    emit('flash:done', {
      outcome: 'failed',
      error: { code: 'flash', message: 'The band stopped taking data at byte 4096 of 7480.', next_step: 'Connect the band again.' },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('The band stopped taking data at byte 4096 of 7480.');
    expect(screen.getByText('The band keeps its previous model.')).toBeInTheDocument();
  });

  it('a full firmware needs an image file', async () => {
    render(Flash);
    await fireEvent.click(screen.getByRole('radio', { name: /Full firmware image, over Bluetooth/ }));
    const flash = screen.getByRole('button', { name: 'Flash' });
    expect(flash).toBeDisabled();
    await fireEvent.input(screen.getByRole('textbox', { name: /Firmware image file/ }), {
      target: { value: ' /tmp/bandx.bin ' },
    });
    await fireEvent.click(flash);
    expect(core.startFlash).toHaveBeenCalledWith({ profile: 7, transport: 'ble_firmware', file: '/tmp/bandx.bin', port: null, allow_downgrade: false });
  });

  it('the system file picker fills the firmware field', async () => {
    vi.mocked(core.pickPath).mockResolvedValueOnce('/home/ana/fw/bandx-1.1.bin');
    render(Flash);
    await fireEvent.click(screen.getByRole('radio', { name: /Full firmware image, over Bluetooth/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Choose file…' }));
    expect(core.pickPath).toHaveBeenCalledWith('firmware_file');
    const field = screen.getByRole('textbox', { name: /Firmware image file/ });
    await vi.waitFor(() => expect(field).toHaveValue('/home/ana/fw/bandx-1.1.bin'));
    await fireEvent.click(screen.getByRole('button', { name: 'Flash' }));
    expect(core.startFlash).toHaveBeenCalledWith({
      profile: 7,
      transport: 'ble_firmware',
      file: '/home/ana/fw/bandx-1.1.bin',
      port: null,
      allow_downgrade: false,
    });
  });

  it('over Bluetooth it needs a connected band', async () => {
    resetSession({ profile });
    render(Flash);
    await screen.findByText(/Model v2/);
    expect(screen.getByRole('button', { name: 'Flash' })).toBeDisabled();
    expect(screen.getByText(/Connect the band first/)).toBeInTheDocument();
  });

  it('over USB it needs no Bluetooth connection, writes the model by default, and takes a serial port', async () => {
    resetSession({ profile });
    render(Flash);
    await screen.findByText(/Model v2/);
    await fireEvent.click(screen.getByRole('radio', { name: /over USB cable/ }));
    const flash = screen.getByRole('button', { name: 'Flash' });
    expect(flash).toBeEnabled();
    await fireEvent.input(screen.getByRole('textbox', { name: /Serial port/ }), { target: { value: '/dev/ttyUSB1' } });
    await fireEvent.click(flash);
    expect(core.startFlash).toHaveBeenCalledWith({ profile: 7, transport: 'usb', file: null, port: '/dev/ttyUSB1', allow_downgrade: false });

    emit('flash:done', {
      outcome: 'failed',
      error: {
        code: 'usb',
        message: 'The band stopped answering on /dev/ttyUSB1 after 4096 of 7480 bytes.',
        next_step: 'Plug the band in again and flash once more.',
      },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('Plug the band in again and flash once more.');
    expect(screen.getByText('The band keeps its previous model.')).toBeInTheDocument();
  });
});
