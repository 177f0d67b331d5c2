#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| callcast_signalling::fuzzing::room_protocol(data));
