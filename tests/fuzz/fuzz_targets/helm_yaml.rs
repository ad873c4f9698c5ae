//! libFuzzer target: [`capstan_fuzz::helm_yaml`] says what is fuzzed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    capstan_fuzz::helm_yaml(data);
});
