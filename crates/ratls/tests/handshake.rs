//! Real TLS handshakes between RA-TLS identities.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use cocoon_ratls::{peer_info, Measurements, Policy, PolicyConfig, PolicyKind, RaTlsError, Role, TeeType};
use common::*;

#[tokio::test]
async fn dev_attested_mutual_handshake_reports_peer() {
    init_tracing();
    let server = dev_identity(Role::Proxy);
    let client = dev_identity(Role::Client);
    let image = Measurements::dev_default().image_hash();

    let server_policy = Arc::new(Policy::new(PolicyConfig {
        measurements: vec![],
        kind: PolicyKind::Dev,
        image_hashes: vec![image],
        expected_role: Some(Role::Client),
    }));
    let client_policy = Arc::new(Policy::new(PolicyConfig {
        measurements: vec![],
        kind: PolicyKind::Dev,
        image_hashes: vec![image],
        expected_role: Some(Role::Proxy),
    }));
    let hs = handshake(server.server_config(server_policy).unwrap(), client.client_config(client_policy).unwrap())
        .await
        .expect("handshake should succeed");

    let seen_by_client = peer_info(&hs.server_certs).unwrap();
    assert_eq!(seen_by_client.public_key, server.public_key());
    assert_eq!(seen_by_client.public_key_hex(), hex::encode(server.public_key()));
    assert_eq!(seen_by_client.role, Role::Proxy);
    assert_eq!(seen_by_client.tee, Some(TeeType::Dev));
    assert_eq!(seen_by_client.image_hash, Some(image));

    let seen_by_server = peer_info(&hs.client_certs).unwrap();
    assert_eq!(seen_by_server.public_key, client.public_key());
    assert_eq!(seen_by_server.role, Role::Client);
    assert_eq!(seen_by_server.image_hash, Some(image));
    assert_eq!(seen_by_server.measurements.as_ref(), Some(&Measurements::dev_default()));
}

#[tokio::test]
async fn image_hash_not_allowlisted_fails() {
    init_tracing();
    let server = dev_identity(Role::Proxy);
    let client = dev_identity(Role::Client);
    let allowed = other_measurements().image_hash();
    let server_policy = Arc::new(Policy::new(PolicyConfig {
        kind: PolicyKind::Dev,
        image_hashes: vec![allowed],
        measurements: vec![],
        expected_role: None,
    }));

    let res = handshake(
        server.server_config(server_policy.clone()).unwrap(),
        client.client_config(policy(PolicyKind::Dev)).unwrap(),
    )
    .await;
    assert!(res.is_err(), "handshake must fail");

    let actual = Measurements::dev_default().image_hash();
    let err = server_policy.check(&client.cert_der(), SystemTime::now()).unwrap_err();
    assert!(matches!(err, RaTlsError::ImageNotAllowed(h) if h == actual));
    let msg = err.to_string();
    assert!(msg.contains(&actual.to_string()), "{msg}");
    assert!(msg.contains("not in the allowlist"), "{msg}");
}

#[tokio::test]
async fn client_rejects_server_with_wrong_image() {
    init_tracing();
    let server = dev_identity_with(Role::Proxy, other_measurements());
    let client = dev_identity(Role::Client);
    let client_policy = Arc::new(Policy::new(PolicyConfig {
        measurements: vec![],
        kind: PolicyKind::Dev,
        image_hashes: vec![Measurements::dev_default().image_hash()],
        expected_role: None,
    }));
    let res =
        handshake(server.server_config(policy(PolicyKind::Dev)).unwrap(), client.client_config(client_policy).unwrap())
            .await;
    let err = res.err().expect("handshake must fail");
    assert!(err.contains("client:"), "{err}");
}

#[tokio::test]
async fn unattested_peers_ok_under_any_refused_under_dev() {
    init_tracing();
    let server = plain_identity(Role::Worker);
    let client = plain_identity(Role::Proxy);
    let hs = handshake(
        server.server_config(policy(PolicyKind::Any)).unwrap(),
        client.client_config(policy(PolicyKind::Any)).unwrap(),
    )
    .await
    .expect("any accepts unattested peers");
    let info = peer_info(&hs.server_certs).unwrap();
    assert_eq!(info.tee, None);
    assert_eq!(info.role, Role::Worker);

    let res = handshake(
        server.server_config(policy(PolicyKind::Any)).unwrap(),
        client.client_config(policy(PolicyKind::Dev)).unwrap(),
    )
    .await;
    assert!(res.is_err(), "dev policy must refuse an unattested server");
}

#[tokio::test]
async fn role_mismatch_fails_handshake() {
    init_tracing();
    let server = dev_identity(Role::Proxy);
    let client = dev_identity(Role::Worker);
    let server_policy = Arc::new(Policy::new(PolicyConfig {
        measurements: vec![],
        kind: PolicyKind::Dev,
        image_hashes: vec![],
        expected_role: Some(Role::Client),
    }));
    let res =
        handshake(server.server_config(server_policy).unwrap(), client.client_config(policy(PolicyKind::Dev)).unwrap())
            .await;
    assert!(res.is_err());
}

#[tokio::test]
async fn rotation_keeps_key_changes_cert_and_still_handshakes() {
    init_tracing();
    let server = dev_identity(Role::Proxy);
    let client = dev_identity(Role::Client);
    let server_cfg = server.server_config(policy(PolicyKind::Dev)).unwrap();
    let client_cfg = client.client_config(policy(PolicyKind::Dev)).unwrap();

    let first = handshake(server_cfg.clone(), client_cfg.clone()).await.unwrap();
    let key_before = server.public_key();
    let cert_before = server.cert_der();
    assert_eq!(first.server_certs[0].as_ref(), cert_before.as_slice());

    server.rotate().unwrap();
    client.rotate().unwrap();
    assert_eq!(server.public_key(), key_before);
    assert_ne!(server.cert_der(), cert_before);

    // Same config objects: the resolver must serve the rotated cert.
    let second = handshake(server_cfg, client_cfg).await.unwrap();
    assert_eq!(second.server_certs[0].as_ref(), server.cert_der().as_slice());
    assert_ne!(second.server_certs[0].as_ref(), cert_before.as_slice());
    assert_eq!(peer_info(&second.server_certs).unwrap().public_key, key_before);
}

#[tokio::test]
async fn spawned_rotation_replaces_certificate() {
    init_tracing();
    let mut cfg = cocoon_ratls::IdentityConfig::new(Role::Worker);
    cfg.validity = std::time::Duration::from_secs(3);
    let id = cocoon_ratls::Identity::new(cfg).unwrap();
    let before = id.cert_der();
    let handle = id.spawn_rotation();
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    handle.abort();
    assert_ne!(id.cert_der(), before);
}

#[tokio::test]
async fn persisted_key_gives_same_identity() {
    let a = plain_identity(Role::Worker);
    let mut cfg = cocoon_ratls::IdentityConfig::new(Role::Worker);
    cfg.key_pem = Some(a.key_pem());
    let b = cocoon_ratls::Identity::new(cfg).unwrap();
    assert_eq!(a.public_key(), b.public_key());

    let mut bad = cocoon_ratls::IdentityConfig::new(Role::Worker);
    bad.key_pem = Some("not a key".into());
    assert!(cocoon_ratls::Identity::new(bad).is_err());
}

mod tls12 {
    use super::*;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use tokio::io::AsyncWriteExt;

    #[derive(Debug)]
    struct AcceptAll;
    impl ServerCertVerifier for AcceptAll {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    #[tokio::test]
    async fn tls12_only_client_cannot_connect() {
        init_tracing();
        let server = dev_identity(Role::Proxy);
        let client_cfg = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAll))
            .with_no_client_auth();
        let (c_io, s_io) = tokio::io::duplex(64 * 1024);
        let acceptor =
            tokio_rustls::TlsAcceptor::from(Arc::new(server.server_config(policy(PolicyKind::Any)).unwrap()));
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_cfg));
        let name = ServerName::try_from("cocoon.peer").unwrap();
        let (s, c) = tokio::join!(acceptor.accept(s_io), async {
            let mut c = connector.connect(name, c_io).await?;
            c.write_all(b"x").await?;
            Ok::<_, std::io::Error>(c)
        });
        let s_err = s.expect_err("server must refuse TLS 1.2");
        let s_err = s_err.to_string().to_lowercase();
        assert!(s_err.contains("incompatible") || s_err.contains("version"), "unexpected server error: {s_err}");
        assert!(c.is_err(), "client must fail");
    }

    #[tokio::test]
    async fn ratls_client_refuses_tls12_only_server() {
        init_tracing();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["cocoon.peer".to_owned()]).unwrap().self_signed(&key).unwrap();
        let server_cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let client = dev_identity(Role::Client);
        let res = handshake(server_cfg, client.client_config(policy(PolicyKind::Any)).unwrap()).await;
        assert!(res.is_err());
    }
}
