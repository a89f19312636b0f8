//! The policy's decision table and the `otadata` state numbers.
use super::*;

const ALL: [OtaState; 6] = [
    OtaState::New,
    OtaState::PendingVerify,
    OtaState::Valid,
    OtaState::Invalid,
    OtaState::Aborted,
    OtaState::Undefined,
];

fn health(imu_answers: bool, model_loads: bool, ble_up: bool) -> BootHealth {
    BootHealth {
        imu_answers,
        model_loads,
        ble_up,
    }
}

#[test]
fn state_numbers_are_esp_idf_s() {
    // esp_ota_img_states_t in ESP-IDF's esp_flash_partitions.h.
    let raw: [u32; 6] = [0, 1, 2, 3, 4, 0xFFFF_FFFF];
    for (state, raw) in ALL.into_iter().zip(raw) {
        assert_eq!(state.raw(), raw);
        assert_eq!(OtaState::from_raw(raw), Some(state));
    }
    assert_eq!(OtaState::from_raw(5), None);
    assert_eq!(OtaState::from_raw(0xFFFF_FFFE), None);
}

#[test]
fn only_an_app_on_trial_that_passes_every_check_is_confirmed() {
    for state in ALL {
        for bits in 0..8u8 {
            let h = health(bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
            let on_trial = matches!(state, OtaState::New | OtaState::PendingVerify);
            let expected = match (on_trial, bits) {
                (false, _) => BootDecision::NothingToConfirm,
                (true, 7) => BootDecision::Confirm,
                (true, b) if b & 1 == 0 => BootDecision::LeavePending(BootFailure::Imu),
                (true, b) if b & 2 == 0 => BootDecision::LeavePending(BootFailure::Model),
                (true, _) => BootDecision::LeavePending(BootFailure::Ble),
            };
            assert_eq!(decide(Some(state), &h), expected, "{state:?} {h:?}");
        }
    }
    assert_eq!(
        decide(None, &health(true, true, true)),
        BootDecision::NothingToConfirm
    );
}
