#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mailnook::fuzz::fuzz_store_ops(data));
