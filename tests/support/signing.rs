//! Signing webhook bodies the way GitHub does: `sha256=` + hex HMAC-SHA256 of the exact bytes.
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn matches_githubs_documented_test_vector() {
    assert_eq!(
        github_signature("It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}
