//! The seconds parser (`90`, `1:30`, `01:02:03.5`): any text; a value, when there is one, is
//! finite and not negative.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(seconds) = pythumbio::catalog::params::parse_seconds(text) {
            assert!(
                seconds.is_finite() && seconds >= 0.0,
                "{text:?} -> {seconds}"
            );
        }
    }
});
