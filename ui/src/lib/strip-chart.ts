// A streaming strip chart for the live IMU view that draws only what changed. The traces live on two canvas
// "tiles", each one view wide, laid side by side along the band's time axis; a new sample adds one short segment
// per channel to the tile(s) under it, and scrolling moves the tiles (a CSS transform per animation frame), so
// nothing already drawn is drawn again. A tile that scrolls out of view is cleared and reused for the next stretch
// of time. The whole window is redrawn only on a resize, a theme change or a clear.
import type { Sample } from './imu-ring';

/** The drawing calls the chart makes (a canvas 2D context has them all; tests pass a recorder). */
export interface Pen {
  clearRect(x: number, y: number, w: number, h: number): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
  strokeStyle: string | CanvasGradient | CanvasPattern;
  lineWidth: number;
}

/** A tile: a canvas's pen and where its transform places it. */
export interface Tile {
  pen: Pen | null;
  place(left: number): void;
}

export const COLORS = ['#ef4444', '#22c55e', '#3b82f6'];
/** [first channel, full scale] of each panel: acceleration (m/s²) above, rotation (rad/s) below. */
export const PANELS: [number, number][] = [
  [1, 20],
  [4, 8],
];

export class StripChart {
  private w = 600;
  private h = 260;
  private scale = 0.1; // px per band ms
  private origin: number | null = null; // band time at world x = 0
  private held: [number | null, number | null] = [null, null]; // the tile index each canvas holds
  private last: Sample | null = null; // the newest sample drawn
  /** Segment batches drawn (one per new sample batch), and whole-window repaints. */
  draws = 0;
  repaints = 0;

  constructor(
    private readonly tiles: [Tile, Tile],
    private readonly seconds = 6,
  ) {}

  /** A new size (css px): everything is redrawn from `samples`. */
  resize(w: number, h: number, samples: readonly Sample[]) {
    this.w = w;
    this.h = h;
    this.scale = w / (this.seconds * 1000);
    this.repaint(samples);
  }

  /** Clears both tiles and draws `samples` again (resize, theme, or the ring was cleared). */
  repaint(samples: readonly Sample[]) {
    this.repaints++;
    this.held = [null, null];
    this.last = null;
    this.origin = samples.length > 0 ? samples[0][0] : null;
    for (const t of this.tiles) t.pen?.clearRect(0, 0, this.w, this.h);
    this.add(samples);
  }

  /** Draws the samples newer than the last one drawn (a sample older than it means a new stream: repaint). */
  add(samples: readonly Sample[]) {
    if (samples.length === 0) return;
    if (this.last && samples[samples.length - 1][0] < this.last[0]) {
      this.repaint(samples);
      return;
    }
    this.origin ??= samples[0][0];
    let from = samples.length;
    while (from > 0 && (!this.last || samples[from - 1][0] > this.last[0])) from--;
    // Keep only what can still be seen: at most one view's worth before the newest sample.
    const newest = samples[samples.length - 1][0];
    while (from < samples.length - 1 && newest - samples[from][0] > this.seconds * 1000) from++;
    const fresh = samples.slice(from);
    if (fresh.length === 0) return;
    const prev = this.last && newest - this.last[0] <= this.seconds * 1000 ? this.last : null;
    const run = prev ? [prev, ...fresh] : fresh;
    this.last = fresh[fresh.length - 1];
    if (run.length < 2) return;
    const x0 = this.x(run[0][0]);
    const x1 = this.x(run[run.length - 1][0]);
    for (let k = Math.floor(x0 / this.w); k <= Math.floor(x1 / this.w); k++) this.stroke(this.tile(k), k, run);
    this.draws++;
  }

  /** Moves the tiles so `right` (band ms) is at the right edge of the view. Cheap: no drawing. */
  scroll(right: number) {
    if (this.origin === null) return;
    const offset = this.x(right) - this.w; // world x at the view's left edge
    this.held.forEach((k, i) => {
      if (k !== null) this.tiles[i].place(k * this.w - offset);
    });
  }

  private x(t: number): number {
    return (t - (this.origin ?? t)) * this.scale;
  }

  /** The canvas holding tile `k`, cleared and claimed if it held an older one. */
  private tile(k: number): number {
    const i = ((k % 2) + 2) % 2;
    if (this.held[i] !== k) {
      this.tiles[i].pen?.clearRect(0, 0, this.w, this.h);
      this.held[i] = k;
    }
    return i;
  }

  private stroke(i: number, k: number, run: readonly Sample[]) {
    const pen = this.tiles[i].pen;
    if (!pen) return;
    const half = this.h / 2;
    const left = k * this.w;
    pen.lineWidth = 1.5;
    for (const [first, range] of PANELS) {
      const mid = (first === 1 ? 0 : half) + half / 2;
      const amp = half / 2 - 8;
      for (let c = 0; c < 3; c++) {
        pen.strokeStyle = COLORS[c];
        pen.beginPath();
        run.forEach((s, j) => {
          const v = Math.max(-range, Math.min(range, s[first + c]));
          const x = this.x(s[0]) - left;
          const y = mid - (v / range) * amp;
          if (j === 0) pen.moveTo(x, y);
          else pen.lineTo(x, y);
        });
        pen.stroke();
      }
    }
  }
}
