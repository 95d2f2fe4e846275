//! wss:// through the tokio adapter: rustls (ring provider) under
//! `accept` and `connect`, with a certificate authority and a server
//! certificate (`localhost`, `127.0.0.1`, `::1`) generated at start.
//!
//! ```text
//! cargo run -p protoswitch-tokio --example tls_echo -- server 127.0.0.1:9443 --cert-out ca.pem
//! cargo run -p protoswitch-tokio --example tls_echo -- client wss://127.0.0.1:9443/ --cafile ca.pem
//! cargo run -p protoswitch-tokio --example tls_echo -- --selftest
//! ```
//!
//! `server` writes the authority's certificate (PEM) to the `--cert-out`
//! file before it listens, so a client can trust it; it echoes every
//! message. `client` sends a text, a binary and a 1 MiB message, checks
//! the echoes and closes with 1000; it exits 0 when all of it worked.
//! `--selftest` runs both over 127.0.0.1 in one process, and checks that a
//! client trusting no authority is refused.

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Connect, Message, accept, connect};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: tls_echo server ADDR --cert-out FILE
       tls_echo client wss://ADDR[/PATH] --cafile FILE
       tls_echo --selftest";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = match args[..] {
        ["server", addr, "--cert-out", file] => server(addr, file).await,
        ["client", url, "--cafile", file] => match std::fs::read(file) {
            Ok(pem) => client(url, &pem).await,
            Err(e) => Err(format!("{file}: {e}").into()),
        },
        ["--selftest"] => selftest().await,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tls_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A fresh authority and the server's certificate signed by it.
struct Certs {
    /// The authority's certificate, for clients to trust.
    ca_pem: String,
    /// The server's certificate, then the authority's.
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn generate() -> Result<Certs, BoxError> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "protoswitch tls_echo CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;

    let mut leaf = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // Strict verifiers (OpenSSL's X509_STRICT) want the issuer's key id.
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf.signed_by(&leaf_key, &ca)?;
    Ok(Certs {
        ca_pem: ca.pem(),
        chain: vec![leaf.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::from_pem_slice(leaf_key.serialize_pem().as_bytes())?,
    })
}

fn acceptor(certs: &Certs) -> Result<TlsAcceptor, BoxError> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs.chain.clone(), certs.key.clone_key())?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn server(addr: &str, cert_out: &str) -> Result<(), BoxError> {
    let certs = generate()?;
    // Written before the port opens: a client that can connect can trust.
    std::fs::write(cert_out, &certs.ca_pem).map_err(|e| format!("{cert_out}: {e}"))?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on wss://{}/", listener.local_addr()?);
    serve(listener, acceptor(&certs)?).await
}

async fn serve(listener: TcpListener, tls: TlsAcceptor) -> Result<(), BoxError> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let tls = tls.clone();
        tokio::spawn(async move {
            if let Err(e) = echo(tls, tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn echo(tls: TlsAcceptor, tcp: TcpStream) -> Result<(), BoxError> {
    tcp.set_nodelay(true)?;
    let stream = tls.accept(tcp).await?;
    let mut ws = accept(stream, |_request| Ok(Accepted::new())).await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(())
}

/// `wss://host:port/path` → (`host:port`, host, path).
fn split_url(url: &str) -> Result<(&str, &str, &str), BoxError> {
    let rest = url
        .strip_prefix("wss://")
        .ok_or("the URL must start with wss://")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    Ok((authority, host, path))
}

async fn client(url: &str, ca_pem: &[u8]) -> Result<(), BoxError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        return Err("no certificate in the CA file".into());
    }
    exchange(url, roots).await
}

async fn exchange(url: &str, roots: RootCertStore) -> Result<(), BoxError> {
    let (authority, host, path) = split_url(url)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(authority).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(host.to_owned())?;
    let stream = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let mut ws = connect(stream, Connect::new(authority, path)).await?;
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 % 251) as u8).collect();
    for (what, message) in [
        ("text", Message::text("hello over TLS ✓")),
        ("binary", Message::binary(vec![0, 1, 2, 253, 254, 255])),
        ("1 MiB binary", Message::binary(big)),
    ] {
        ws.send(message.clone()).await?;
        match ws.next().await {
            Some(Ok(echo)) if echo == message => println!("ok: {url}: {what} echoed"),
            Some(Ok(_)) => return Err(format!("{what}: the echo differs").into()),
            Some(Err(e)) => return Err(e.into()),
            None => return Err(format!("{what}: the connection ended").into()),
        }
    }
    ws.close(1000, "done").await?;
    match ws.close_frame() {
        Some(close) if close.code == Some(1000) => {
            println!("ok: {url}: closed 1000, the server echoed 1000");
            Ok(())
        }
        other => Err(format!("close: the server answered {other:?}").into()),
    }
}

async fn selftest() -> Result<(), BoxError> {
    let certs = generate()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(serve(listener, acceptor(&certs)?));
    client(&format!("wss://127.0.0.1:{port}/"), certs.ca_pem.as_bytes()).await?;
    client(
        &format!("wss://localhost:{port}/echo"),
        certs.ca_pem.as_bytes(),
    )
    .await?;
    // A client that trusts nothing must not get through.
    match exchange(&format!("wss://127.0.0.1:{port}/"), RootCertStore::empty()).await {
        Err(e) => println!("ok: a client without the authority is refused: {e}"),
        Ok(()) => return Err("a client without the authority got through".into()),
    }
    server.abort();
    println!("selftest: passed");
    Ok(())
}
