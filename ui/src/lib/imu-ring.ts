// The last seconds of the 20 Hz IMU stream for the live chart: filled by events, read by the chart's
// animation frames (which interpolate between samples so the chart scrolls smoothly).

export type Sample = [number, number, number, number, number, number, number];

export class ImuRing {
  readonly capacity: number;
  private data: Sample[] = [];
  /** performance.now() when the newest sample arrived. */
  lastArrival = 0;
  /** Bumped on every push (the chart redraws when it changes or while scrolling). */
  version = 0;

  constructor(capacity = 200) {
    this.capacity = capacity;
  }

  push(samples: number[][], now = typeof performance !== 'undefined' ? performance.now() : Date.now()) {
    for (const s of samples) {
      if (s.length !== 7 || s.some((v) => !Number.isFinite(v))) continue;
      this.data.push(s as Sample);
    }
    if (this.data.length > this.capacity) this.data.splice(0, this.data.length - this.capacity);
    this.lastArrival = now;
    this.version++;
  }

  clear() {
    this.data = [];
    this.version++;
  }

  get samples(): readonly Sample[] {
    return this.data;
  }

  get length(): number {
    return this.data.length;
  }
}
