import { describe, expect, it } from 'vitest';
import { ImuRing } from './imu-ring';

describe('ImuRing', () => {
  it('keeps the newest samples up to its capacity and skips malformed ones', () => {
    const ring = new ImuRing(3);
    ring.push(
      [
        [0, 1, 2, 3, 4, 5, 6],
        [50, 1, 2, 3, 4, 5, 6],
        [100, 1, 2, Number.NaN, 4, 5, 6],
        [150, 1, 2, 3],
      ],
      10,
    );
    expect(ring.samples.map((s) => s[0])).toEqual([0, 50]);
    ring.push([[200, 0, 0, 0, 0, 0, 0], [250, 0, 0, 0, 0, 0, 0]], 20);
    expect(ring.samples.map((s) => s[0])).toEqual([50, 200, 250]);
    expect(ring.lastArrival).toBe(20);
    const v = ring.version;
    ring.clear();
    expect(ring.length).toBe(0);
    expect(ring.version).toBe(v + 1);
  });
});
