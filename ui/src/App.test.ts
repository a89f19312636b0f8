import { render, screen, fireEvent } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from './App.svelte';

describe('App shell', () => {
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
});
