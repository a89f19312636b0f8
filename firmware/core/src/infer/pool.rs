//! Pooling over `[t][c]` tensors: MaxPool1d (int8 or int16, size = stride, the tail dropped) and
//! GlobalAvgPool (int8, rounded half away from zero). Each output row is the element-wise max of
//! `size` contiguous input rows. (A max pool right after a convolution usually runs fused into it,
//! `Conv::run_pooled`; this one serves the other cases.)

use crate::blob::Shape;

/// MaxPool1d with size = stride on an int8 or (`inp.wide`) little-endian int16 tensor.
pub(super) fn max_pool1d(size: usize, inp: Shape, src: &[u8], out: Shape, dst: &mut [u8]) {
    let row = inp.channels * if inp.wide { 2 } else { 1 };
    let window = size * row;
    let rows_out = dst.chunks_exact_mut(row).take(out.len);
    for (d, w) in rows_out.zip(src.chunks_exact(window)) {
        let mut rows = w.chunks_exact(row);
        let Some(first) = rows.next() else { return };
        d.copy_from_slice(first);
        for r in rows {
            if inp.wide {
                for (dc, rc) in d.chunks_exact_mut(2).zip(r.chunks_exact(2)) {
                    let m =
                        i16::from_le_bytes([dc[0], dc[1]]).max(i16::from_le_bytes([rc[0], rc[1]]));
                    dc.copy_from_slice(&m.to_le_bytes());
                }
            } else {
                for (dc, &rc) in d.iter_mut().zip(r) {
                    *dc = (*dc as i8).max(rc as i8) as u8;
                }
            }
        }
    }
}

/// GlobalAvgPool: per channel `round(Σ_t x / len)`, ties away from zero.
pub(super) fn global_avg_pool(inp: Shape, src: &[u8], dst: &mut [u8]) {
    let n = inp.len as i32;
    for c in 0..inp.channels {
        let sum: i32 = (0..inp.len)
            .filter_map(|t| src.get(t * inp.channels + c))
            .map(|&b| b as i8 as i32)
            .sum();
        // Round half away from zero.
        let avg = if sum >= 0 {
            (sum + n / 2) / n
        } else {
            (sum - n / 2) / n
        };
        if let Some(d) = dst.get_mut(c) {
            *d = avg.clamp(-128, 127) as i8 as u8;
        }
    }
}
