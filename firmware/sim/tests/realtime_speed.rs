//! `SimConfig::realtime_speed`: the real-time runner follows the wall clock scaled by the speed.
//! Only lower bounds are checked (simulated time is computed from the elapsed wall time, so it can
//! never lag; a loaded machine can only make it run further).

use std::time::{Duration, Instant};

use bandx_sim::{SimBand, SimConfig};

fn band(dir: &std::path::Path, speed: f64) -> SimBand {
    let mut config = SimConfig::new(dir.join("band.flash"), None);
    config.realtime_speed = speed;
    SimBand::new(config).expect("the virtual band starts")
}

#[test]
fn a_faster_band_simulates_more_time_than_passes() {
    let dir = tempfile::tempdir().unwrap();
    let band = band(dir.path(), 8.0);
    let started = Instant::now();
    let _runner = band.run_realtime();
    std::thread::sleep(Duration::from_millis(200));
    let wall = started.elapsed();
    assert!(
        band.now() >= wall.mul_f64(8.0).saturating_sub(Duration::from_millis(60)),
        "simulated {:?} in {:?} of wall time at 8x",
        band.now(),
        wall
    );
}

#[test]
fn a_nonsense_speed_means_real_time() {
    let dir = tempfile::tempdir().unwrap();
    for speed in [0.0, -3.0, f64::NAN, f64::INFINITY] {
        let band = band(dir.path(), speed);
        let _runner = band.run_realtime();
        std::thread::sleep(Duration::from_millis(50));
        // Real time: the band has moved on, but nowhere near a runaway clock's hours.
        assert!(
            band.now() < Duration::from_secs(3600),
            "speed {speed}: {:?}",
            band.now()
        );
        drop(_runner);
        drop(band);
    }
}
