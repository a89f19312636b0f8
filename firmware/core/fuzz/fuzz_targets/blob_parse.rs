//! Fuzzes the model blob parser: as-is, and re-sealed (digest recomputed) so mutations reach the structural
//! checks; anything that parses is also run (self-test, labels).
#![no_main]

use bandx_core::blob::{DIGEST_LEN, Model, sha256};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Model::parse(data);
    if data.len() > DIGEST_LEN {
        let mut sealed = data.to_vec();
        let body = sealed.len() - DIGEST_LEN;
        let digest = sha256(&sealed[..body]);
        sealed[body..].copy_from_slice(&digest);
        if let Ok(model) = Model::parse(&sealed) {
            let _ = model.labels().iter().count();
            if model.required_arena() <= 1 << 20 {
                let mut arena = vec![0u8; model.required_arena()];
                let _ = model.self_test(&mut arena);
            }
        }
    }
});
