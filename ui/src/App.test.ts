import { render, screen, fireEvent } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import * as core from './lib/core';
import { emit, listeners } from './test/fake-events';
import { resetSession, virtualBand } from './test/fixtures';

vi.mock('./lib/core');

describe('App shell', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    resetSession();
    vi.mocked(core.inTauri).mockReturnValue(false);
  });

  it('shows every screen in the navigation and switches between them', async () => {
    render(App);
    for (const name of ['Bands', 'Calibrate', 'Train', 'Flash', 'Live', 'Data']) {
      expect(screen.getByRole('button', { name })).toBeInTheDocument();
    }
    await fireEvent.click(screen.getByRole('button', { name: 'Train' }));
    expect(screen.getByRole('heading', { level: 2 })).toHaveTextContent('Train');
    expect(screen.getByRole('button', { name: 'Train' })).toHaveAttribute('aria-current', 'page');
  });

  it('toggles the theme', async () => {
    render(App);
    const toggle = screen.getByRole('button', { name: /theme/ });
    const before = document.documentElement.dataset.theme;
    await fireEvent.click(toggle);
    expect(document.documentElement.dataset.theme).not.toBe(before);
  });

  it('shows the version from the core and a band that drops as lost', async () => {
    vi.mocked(core.inTauri).mockReturnValue(true);
    resetSession({ band: virtualBand });
    render(App);
    expect(await screen.findByTestId('version')).toHaveTextContent('v0.1.0');
    expect(screen.getByTestId('status-band')).toHaveTextContent('BandX Sim');

    await vi.waitFor(() => expect(listeners('band:state')).toBe(1));
    emit('band:state', { connected: false, reason: 'lost', name: 'BandX Sim' });
    await tick();
    expect(screen.getByTestId('status-band')).toHaveTextContent('No band connected');
    expect(screen.getByTestId('connection-lost')).toHaveTextContent('The connection to BandX Sim was lost.');
  });
});
