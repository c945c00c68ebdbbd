//! A TLS front for the fake upstream: terminates TLS on 127.0.0.1 with the certificate a
//! test made, speaks HTTP/2 (when offered by ALPN) or HTTP/1.1 to the client, and forwards
//! each request to the plain fake over its own HTTP/1.1 connection, so every scripted reply
//! and fault works over TLS too. It counts the TLS connections it accepts (the number a
//! cold-start burst opened) and how many spoke HTTP/2. A client that resets one HTTP/2
//! stream makes the front drop that stream's backend connection: the fake counts it as an
//! aborted stream, exactly as over HTTP/1.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    http2_connections: AtomicUsize,
    handshakes_failed: AtomicUsize,
    requests: AtomicUsize,
}

/// The TLS front; stops when dropped.
pub struct TlsFront {
    address: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn other(error: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(error.to_string())
}

impl TlsFront {
    /// Listens on 127.0.0.1 (a free port) with `cert_chain_pem` (leaf first) and `key_pem`,
    /// forwarding to the plain fake at `backend`. `http2` offers `h2` before `http/1.1`.
    pub async fn start(
        backend: SocketAddr,
        cert_chain_pem: &str,
        key_pem: &str,
        http2: bool,
    ) -> std::io::Result<TlsFront> {
        let certs = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(other)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(other)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(other)?;
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            backend,
            Arc::clone(&counts),
        ));
        Ok(TlsFront {
            address,
            counts,
            task,
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `https://{host}:{port}/v1`; `host` must be a name in the certificate.
    pub fn base_url(&self, host: &str) -> String {
        format!("https://{host}:{}/v1", self.address.port())
    }

    /// TCP connections accepted (each one a TLS handshake attempt).
    pub fn connections(&self) -> usize {
        self.counts.connections.load(Ordering::SeqCst)
    }

    /// Connections whose client chose HTTP/2.
    pub fn http2_connections(&self) -> usize {
        self.counts.http2_connections.load(Ordering::SeqCst)
    }

    /// Handshakes that failed (a client that does not trust the certificate).
    pub fn handshakes_failed(&self) -> usize {
        self.counts.handshakes_failed.load(Ordering::SeqCst)
    }

    /// Requests forwarded.
    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    backend: SocketAddr,
    counts: Arc<Counts>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        counts.connections.fetch_add(1, Ordering::SeqCst);
        let (acceptor, counts) = (acceptor.clone(), Arc::clone(&counts));
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(_) => {
                    counts.handshakes_failed.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                counts.http2_connections.fetch_add(1, Ordering::SeqCst);
            }
            let service = hyper::service::service_fn(move |request| {
                counts.requests.fetch_add(1, Ordering::SeqCst);
                forward(backend, request)
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

/// One request to the plain fake over a fresh HTTP/1.1 connection; its response body is
/// streamed back as it comes.
async fn forward(
    backend: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, BoxError> {
    let stream = TcpStream::connect(backend).await?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    parts.uri = path.parse()?;
    parts.version = hyper::Version::HTTP_11;
    parts
        .headers
        .insert(hyper::header::HOST, backend.to_string().parse()?);
    Ok(sender
        .send_request(Request::from_parts(parts, body))
        .await?)
}
