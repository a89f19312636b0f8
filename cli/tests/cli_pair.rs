//! `bandx pair` / `bandx unpair` on the virtual band: nothing works before pairing, a wrong code pairs nothing,
//! the code the band shows does, and forgetting the band closes it again.

mod support;

use support::{bandx, pair_sim, stderr, stdout};

#[test]
fn the_band_answers_only_after_pairing_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let stranger = bandx(d, &["--sim", "info"]);
    assert_eq!(stranger.status.code(), Some(9), "{}", stderr(&stranger));
    assert!(stderr(&stranger).contains("pair"), "{}", stderr(&stranger));

    let (wrong, shown) = pair_sim(d, |shown| {
        let n: u32 = shown.parse().unwrap();
        format!("{:06}", (n + 1) % 1_000_000)
    });
    assert_eq!(shown.len(), 6, "the virtual band shows six digits");
    assert_eq!(wrong.status.code(), Some(9), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("wrong code"), "{}", stderr(&wrong));
    assert_eq!(bandx(d, &["--sim", "info"]).status.code(), Some(9));

    let (right, _) = pair_sim(d, |shown| shown.to_string());
    assert!(right.status.success(), "{}", stderr(&right));
    assert!(
        stdout(&right).contains("paired: sim:"),
        "{}",
        stdout(&right)
    );
    let info = bandx(d, &["--sim", "info"]);
    assert!(info.status.success(), "{}", stderr(&info));
    assert!(stdout(&info).contains("model_id: "), "{}", stdout(&info));

    let unpaired = bandx(d, &["--sim", "unpair"]);
    assert!(unpaired.status.success(), "{}", stderr(&unpaired));
    assert_eq!(bandx(d, &["--sim", "info"]).status.code(), Some(9));
}

#[test]
fn a_code_that_is_not_six_digits_is_refused_before_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bandx(dir.path(), &["--sim", "pair", "--code", "12ab"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("six digits"), "{}", stderr(&out));
}
