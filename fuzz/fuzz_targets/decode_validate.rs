//! Arbitrary bytes into the request decode + validation path of a customer upload: it must
//! never panic, whatever arrives on the wire.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cvo::api::convert::decode_and_validate(data);
});
