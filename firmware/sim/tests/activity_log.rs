//! The activity log in the virtual band's flash file: minutes survive a restart, a power cut while a record is
//! written loses that record only, and the log goes on in the next boot.

mod support;

use std::time::Duration;

use bandx_sim::SimBand;
use support::fresh_band;

fn minutes(band: &SimBand) -> Vec<(u32, u32, u32)> {
    band.with_band(|b| {
        let mut out = Vec::new();
        b.log_entries(0, |e| {
            out.push((e.seq, e.boot, e.minute));
            true
        })
        .unwrap();
        out
    })
    .unwrap()
}

#[test]
fn a_power_cut_while_logging_loses_at_most_the_record_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let band = fresh_band(dir.path());
    band.advance(Duration::from_secs(3 * 60 + 1)).unwrap();
    let before = minutes(&band);
    assert_eq!(before.len(), 3, "{before:?}");
    // The next minute's record is two programs: cut the power in the first, then restart.
    band.with_band(|b| b.platform_mut().flash_mut().cut_power_after(0))
        .unwrap();
    band.advance(Duration::from_secs(60)).unwrap();
    assert!(
        band.with_band(|b| b.platform().flash().power_lost())
            .unwrap()
    );
    band.power_cycle().unwrap();
    band.advance(Duration::from_secs(2 * 60 + 1)).unwrap();
    let after = minutes(&band);
    // The three old minutes are intact; minute 3 of the first boot is lost; the new boot logs two.
    assert_eq!(&after[..3], &before[..]);
    let boot = before[0].1;
    assert!(
        !after.iter().any(|&(_, b, m)| b == boot && m == 3),
        "{after:?}"
    );
    let new: Vec<_> = after.iter().filter(|&&(_, b, _)| b == boot + 1).collect();
    assert_eq!(new.len(), 2, "{after:?}");
    // Sequence numbers go on past the lost one.
    assert!(new[0].0 > before[2].0 + 1, "{after:?}");
}
