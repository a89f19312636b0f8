// The one place the UI talks to the Rust core. Everything else imports from here, so tests can replace it.
import { invoke } from '@tauri-apps/api/core';

/** True when running inside the Tauri window (false in unit tests and a plain browser). */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

export async function appVersion(): Promise<string> {
  return invoke<string>('app_version');
}
