//! TLS round trip with a self-signed certificate made for the test.

mod support;

use support::{Harness, MemoryBackend};
use switchyard_control_api::ServerTls;

#[tokio::test]
async fn a_client_trusting_the_ca_talks_over_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let cert_pem = cert.cert.pem();
    let key_pem = cert.signing_key.serialize_pem();
    let h = Harness::start_with(
        MemoryBackend::new(true),
        Some(ServerTls::from_pem(&cert_pem, &key_pem)),
    )
    .await;

    let client = h.tls_client(&cert_pem).await.expect("tls connect");
    let b = client
        .trip_breaker("payments", "over tls", None)
        .await
        .expect("trip");
    assert_eq!(b.state, "forced_open");

    // Plain text to a TLS port does not get through.
    let plain = h.client_with(support::ALICE_TOKEN).await;
    let refused = match plain {
        Ok(c) => c.identity().await.is_err(),
        Err(_) => true,
    };
    assert!(refused);
}
