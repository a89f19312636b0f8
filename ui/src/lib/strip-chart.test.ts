import { describe, expect, it } from 'vitest';
import type { Sample } from './imu-ring';
import { StripChart, type Pen, type Tile } from './strip-chart';

/** Records what is drawn on a tile and where it is placed. */
function recorder() {
  const calls = { segments: 0, clears: 0, xs: [] as number[] };
  const pen: Pen = {
    clearRect: () => void calls.clears++,
    beginPath: () => {},
    moveTo: (x) => void calls.xs.push(x),
    lineTo: (x) => {
      calls.segments++;
      calls.xs.push(x);
    },
    stroke: () => {},
    strokeStyle: '',
    lineWidth: 1,
  };
  const tile = { pen, left: Number.NaN, place: (left: number) => void (tile.left = left) };
  return { tile, calls };
}

const at = (t: number): Sample => [t, 1, 2, 3, 0.1, 0.2, 0.3];
const stream = (from: number, n: number) => Array.from({ length: n }, (_, i) => at(from + i * 50));

describe('StripChart', () => {
  it('draws only the new segments when samples arrive', () => {
    const a = recorder();
    const b = recorder();
    const chart = new StripChart([a.tile, b.tile] as [Tile, Tile], 6);
    const samples = stream(0, 40); // 2 s at 20 Hz
    chart.resize(600, 260, samples);
    // 39 segments on each of the 6 traces.
    expect(a.calls.segments + b.calls.segments).toBe(39 * 6);
    const before = a.calls.segments + b.calls.segments;
    chart.add([...samples, at(2000), at(2050)]);
    // Two new segments per trace (from the last sample drawn), nothing redrawn.
    expect(a.calls.segments + b.calls.segments - before).toBe(2 * 6);
    expect(chart.repaints).toBe(1);
    chart.add([...samples, at(2000), at(2050)]);
    // Nothing new: nothing drawn.
    expect(a.calls.segments + b.calls.segments - before).toBe(2 * 6);
  });

  it('scrolls by placing the tiles, and reuses a tile once its stretch of time is out of view', () => {
    const a = recorder();
    const b = recorder();
    const chart = new StripChart([a.tile, b.tile] as [Tile, Tile], 6);
    chart.resize(600, 260, [at(0)]);
    // 0.1 px per ms: tile 0 covers band time 0-6 s, tile 1 6-12 s, tile 2 (canvas a again) 12-18 s.
    for (let t = 50; t <= 13000; t += 50) chart.add([at(t - 50), at(t)]);
    chart.scroll(13000);
    // The view's left edge is world x 700: tile 1 (canvas b) at -100, tile 2 (canvas a) at 500.
    expect(b.tile.left).toBeCloseTo(-100);
    expect(a.tile.left).toBeCloseTo(500);
    expect(a.calls.clears).toBeGreaterThanOrEqual(2); // cleared by the resize and when it took tile 2
    // What canvas a holds now is drawn at tile-local x in [0, 600].
    const recent = a.calls.xs.slice(-6 * 2);
    for (const x of recent) {
      expect(x).toBeGreaterThanOrEqual(-5);
      expect(x).toBeLessThanOrEqual(605);
    }
  });

  it('repaints from scratch when the stream starts over', () => {
    const a = recorder();
    const b = recorder();
    const chart = new StripChart([a.tile, b.tile] as [Tile, Tile], 6);
    chart.resize(600, 260, stream(10000, 10));
    chart.add(stream(0, 5)); // older than what was drawn: a new recording
    expect(chart.repaints).toBe(2);
  });
});
