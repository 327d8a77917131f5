#![no_main]
// See crates/fuzz-targets/src/lib.rs for what `backend_answer` decodes and where its bytes come from.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cocoon_fuzz_targets::backend_answer(data));
