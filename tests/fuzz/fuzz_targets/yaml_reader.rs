//! libFuzzer target: [`capstan_fuzz::yaml_reader`] says what is fuzzed and checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    capstan_fuzz::yaml_reader(data);
});
