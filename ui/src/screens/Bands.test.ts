import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as core from '../lib/core';
import { session } from '../lib/session.svelte';
import { emit } from '../test/fake-events';
import { resetSession, uiError, virtualBand } from '../test/fixtures';
import Bands from './Bands.svelte';

vi.mock('../lib/core');

describe('Bands screen', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession();
  });

  it('scans, shows each band with its signal strength, and connects', async () => {
    vi.mocked(core.scanBands).mockResolvedValue([
      { id: 'hci0/dev_1', address: 'C0:FF:EE:00:00:01', name: 'BandX 01', rssi: -58 },
      { id: 'hci0/dev_2', address: 'C0:FF:EE:00:00:02', name: 'BandX 02', rssi: -83 },
    ]);
    vi.mocked(core.connectBand).mockResolvedValue({ ...virtualBand, kind: 'bluetooth', name: 'BandX 01' });
    render(Bands);

    await fireEvent.click(screen.getByRole('button', { name: 'Scan for bands' }));
    const table = await screen.findByRole('table', { name: 'Bands found' });
    expect(within(table).getByText('-58 dBm (excellent)')).toBeInTheDocument();
    expect(within(table).getByText('-83 dBm (weak)')).toBeInTheDocument();

    await fireEvent.click(within(table).getAllByRole('button', { name: 'Connect' })[0]);
    expect(core.connectBand).toHaveBeenCalledWith('hci0/dev_1');
    const card = await screen.findByRole('article', { name: 'Connected band' });
    expect(within(card).getByText('sim-0.1.0')).toBeInTheDocument();
    expect(within(card).getByTestId('band-model')).toHaveTextContent('v1: walking, jogging, typing');
    expect(within(card).getByText('87 %')).toBeInTheDocument();
    expect(session.band?.name).toBe('BandX 01');
  });

  it('without an adapter it says so and offers the virtual band, whose wearer can be picked', async () => {
    vi.mocked(core.scanBands).mockRejectedValue(
      uiError('no_adapter', 'No Bluetooth adapter found.', 'Use the virtual band instead?'),
    );
    vi.mocked(core.useVirtualBand).mockResolvedValue(virtualBand);
    render(Bands);

    await fireEvent.click(screen.getByRole('button', { name: 'Scan for bands' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('No Bluetooth adapter found. Use the virtual band instead?');
    await fireEvent.click(within(alert).getByRole('button', { name: 'Use the virtual band' }));
    expect(core.useVirtualBand).toHaveBeenCalledOnce();

    expect(await screen.findByText('virtual band')).toBeInTheDocument();
    const activity = await screen.findByRole('combobox', { name: 'What the wearer is doing' });
    await vi.waitFor(() => expect(activity).toHaveValue('walking'));
    await fireEvent.change(activity, { target: { value: 'typing' } });
    expect(core.setWearerActivity).toHaveBeenCalledWith('typing');
    await fireEvent.change(screen.getByRole('combobox', { name: 'How they wear the band' }), {
      target: { value: 'different' },
    });
    expect(core.setWearerStyle).toHaveBeenCalledWith('different');
  });

  it('says when Bluetooth is off', async () => {
    vi.mocked(core.scanBands).mockRejectedValue(
      uiError('bluetooth_off', 'Bluetooth is turned off.', 'Turn Bluetooth on in your system settings and scan again.'),
    );
    render(Bands);
    await fireEvent.click(screen.getByRole('button', { name: 'Scan for bands' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Bluetooth is turned off. Turn Bluetooth on');
  });

  it('shows a lost connection and disconnects on request', async () => {
    resetSession({ band: virtualBand, lost: null });
    render(Bands);
    await fireEvent.click(screen.getByRole('button', { name: 'Disconnect' }));
    expect(core.disconnectBand).toHaveBeenCalledOnce();
    expect(session.band).toBeNull();
    expect(screen.queryByRole('article', { name: 'Connected band' })).not.toBeInTheDocument();
  });

  it('tells the user when the band was lost', () => {
    resetSession({ lost: 'BandX 01' });
    render(Bands);
    expect(screen.getByTestId('connection-lost')).toHaveTextContent('The connection to BandX 01 was lost.');
  });

  it('pairs with a band that refuses an unpaired desktop: shows its code, sends what was typed, then connects', async () => {
    const notPaired = uiError('not_paired', 'The band only answers the desktop it is paired with.', 'Pair with it.');
    vi.mocked(core.useVirtualBand).mockRejectedValueOnce(notPaired).mockResolvedValueOnce(virtualBand);
    let finishPairing: () => void = () => undefined;
    vi.mocked(core.pairBand).mockImplementation(
      () =>
        new Promise<void>((resolve) => {
          finishPairing = resolve;
        }),
    );
    render(Bands);

    await fireEvent.click(screen.getByRole('button', { name: 'Use the virtual band' }));
    const card = await screen.findByRole('article', { name: 'Pair with the band' });
    expect(screen.getByRole('alert')).toHaveTextContent('only answers the desktop it is paired with');
    await fireEvent.click(within(card).getByRole('button', { name: 'Pair' }));
    expect(core.pairBand).toHaveBeenCalledWith('', true);

    emit('pairing:code', { virtual_screen: '042917' });
    expect(await within(card).findByTestId('virtual-band-screen')).toHaveTextContent('042917');
    const confirm = within(card).getByRole('button', { name: 'Confirm code' });
    const field = within(card).getByRole('textbox', { name: 'Pairing code' });
    await fireEvent.input(field, { target: { value: '04291' } });
    expect(confirm).toBeDisabled();
    await fireEvent.input(field, { target: { value: '042917' } });
    await fireEvent.click(confirm);
    expect(core.enterPairingCode).toHaveBeenCalledWith('042917');

    finishPairing();
    expect(await screen.findByRole('article', { name: 'Connected band' })).toBeInTheDocument();
    expect(core.useVirtualBand).toHaveBeenCalledTimes(2);
    expect(screen.queryByRole('article', { name: 'Pair with the band' })).not.toBeInTheDocument();
  });

  it('says when the code was wrong and offers to pair again', async () => {
    vi.mocked(core.connectBand).mockRejectedValue(uiError('not_paired', 'Not paired.', 'Pair with it.'));
    vi.mocked(core.scanBands).mockResolvedValue([{ id: 'hci0/dev_1', address: 'C0:FF:EE:00:00:01', name: 'BandX 01', rssi: -58 }]);
    vi.mocked(core.pairBand).mockRejectedValue(
      uiError('wrong_code', 'That code does not match the one on the band.', 'Pair again: the band shows a new code.'),
    );
    render(Bands);
    await fireEvent.click(screen.getByRole('button', { name: 'Scan for bands' }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Connect' }));
    const card = await screen.findByRole('article', { name: 'Pair with the band' });
    await fireEvent.click(within(card).getByRole('button', { name: 'Pair' }));
    expect(core.pairBand).toHaveBeenCalledWith('hci0/dev_1', false);
    expect(await screen.findByRole('alert')).toHaveTextContent('That code does not match the one on the band.');
    expect(within(card).getByRole('button', { name: 'Pair' })).toBeEnabled();
  });

  it('forgets a band on request', async () => {
    resetSession({ band: virtualBand, lost: null });
    render(Bands);
    await fireEvent.click(screen.getByRole('button', { name: 'Forget this band' }));
    expect(core.unpairBand).toHaveBeenCalledWith('sim:BandX Sim', true);
    expect(session.band).toBeNull();
  });
});
