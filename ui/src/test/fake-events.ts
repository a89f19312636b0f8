// The event bus behind the fake core (lib/__mocks__/core.ts): screens subscribe through it, tests
// fire events with emit().
type Handler = (payload: never) => void;

const handlers = new Map<string, Set<Handler>>();

export function listenerFor(event: string) {
  return async (cb: Handler) => {
    const set = handlers.get(event) ?? new Set<Handler>();
    set.add(cb);
    handlers.set(event, set);
    return () => {
      set.delete(cb);
    };
  };
}

/** Delivers an event to every screen listening, as the Rust core would. */
export function emit(event: string, payload: unknown) {
  for (const h of handlers.get(event) ?? []) (h as (p: unknown) => void)(payload);
}

export function listeners(event: string): number {
  return handlers.get(event)?.size ?? 0;
}

export function clearListeners() {
  handlers.clear();
}
