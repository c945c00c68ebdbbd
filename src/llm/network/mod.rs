//! The network people really have: extra root certificates (`caFile`, `CHATLS_CA_FILE`; the
//! system's roots stay, and `SSL_CERT_FILE` keeps working through them), the proxy (the
//! `proxy` setting over `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY`, never for a
//! loopback base URL), the HTTP client built from both, one connection for a cold-start
//! burst to an HTTP/2 upstream, and the certificate and proxy failures worded with the
//! setting that fixes them. Proxy credentials never print themselves, like the API key.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use tokio_util::sync::CancellationToken;

/// The environment variables that may name a proxy.
pub const PROXY_VARIABLES: &[&str] = &[
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// What the `proxy` setting says.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// Not set: the environment's variables decide.
    #[default]
    FromEnvironment,
    /// `"none"`: always connect directly, whatever the environment says.
    Direct,
    /// A proxy URL, credentials and all.
    Url(ProxyUrl),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnvironment => f.write_str("FromEnvironment"),
            ProxySetting::Direct => f.write_str("Direct"),
            ProxySetting::Url(url) => write!(f, "Url({url})"),
        }
    }
}

impl ProxySetting {
    /// The setting's value: `"none"`, or an `http://`, `https://`, `socks5://` or
    /// `socks5h://` URL (`host:port` alone means `http://host:port`). The error never
    /// repeats the value, which may hold a password.
    pub fn parse(value: &str) -> Result<ProxySetting, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(ProxySetting::FromEnvironment);
        }
        if value.eq_ignore_ascii_case("none") {
            return Ok(ProxySetting::Direct);
        }
        ProxyUrl::parse(value).map(ProxySetting::Url).map_err(|problem| {
            format!(
                "must be \"none\" or a proxy URL such as http://proxy.example.com:3128 ({problem}; the value is not shown)"
            )
        })
    }
}

/// A proxy URL. `Debug` and `Display` show it without its user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&with_scheme).map_err(|error| format!("not a URL: {error}"))?;
        if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
            return Err(format!("the scheme {:?} is not supported", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("it names no host".to_owned());
        }
        Ok(ProxyUrl(url))
    }

    /// The URL with its credentials, for the HTTP client only.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// `scheme://host:port`, safe to show.
    pub fn shown(&self) -> String {
        let url = &self.0;
        let host = url.host_str().unwrap_or("");
        match url.port_or_known_default() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        }
    }

    /// `text` with this proxy's user name and password (raw and percent-encoded) replaced.
    pub fn scrub(&self, text: &str) -> String {
        crate::llm::secret::Redactor::default()
            .with_url(&self.0)
            .redact(text)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

/// A file of extra root certificates and who named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaFile {
    pub path: PathBuf,
    /// "the `caFile` setting" or "CHATLS_CA_FILE".
    pub source: &'static str,
}

/// The network side of an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub ca_file: Option<CaFile>,
    pub proxy: ProxySetting,
}

/// The proxy one request goes through, and who chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenProxy {
    pub url: ProxyUrl,
    /// "the `proxy` setting", or the variable's name ("HTTPS_PROXY").
    pub source: String,
}

const PROXY_SETTING: &str = "the `proxy` setting";

/// The proxy for requests to `target`: none for a loopback host or `"none"`; the setting's
/// URL when set; else the environment's (`https_proxy`/`HTTPS_PROXY` for https,
/// `http_proxy`/`HTTP_PROXY` for http, then `all_proxy`/`ALL_PROXY`), unless `NO_PROXY`
/// lists the host. Pure: `env` reads a variable.
pub fn choose_proxy(
    setting: &ProxySetting,
    target: &Url,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ChosenProxy> {
    let host = target.host()?;
    if is_loopback_host(&host) {
        return None;
    }
    match setting {
        ProxySetting::Direct => None,
        ProxySetting::Url(url) => Some(ChosenProxy {
            url: url.clone(),
            source: PROXY_SETTING.to_owned(),
        }),
        ProxySetting::FromEnvironment => {
            let names: &[&str] = if target.scheme() == "https" {
                &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
            } else {
                &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
            };
            let (name, value) = names.iter().find_map(|name| {
                env(name)
                    .map(|value| value.trim().to_owned())
                    .filter(|value| !value.is_empty())
                    .map(|value| (*name, value))
            })?;
            let no_proxy = env("no_proxy").or_else(|| env("NO_PROXY"));
            if no_proxy.is_some_and(|list| no_proxy_matches(&list, &host)) {
                return None;
            }
            match ProxyUrl::parse(&value) {
                Ok(url) => Some(ChosenProxy {
                    url,
                    source: name.to_owned(),
                }),
                Err(problem) => {
                    tracing::warn!(variable = name, %problem, "ignoring a proxy variable that is not a URL");
                    None
                }
            }
        }
    }
}

fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// `NO_PROXY`: comma-separated; `*` matches every host; `example.com` and `.example.com`
/// match the domain and its subdomains; an IP address or a CIDR block matches addresses.
fn no_proxy_matches(list: &str, host: &url::Host<&str>) -> bool {
    let ip: Option<std::net::IpAddr> = match host {
        url::Host::Ipv4(ip) => Some((*ip).into()),
        url::Host::Ipv6(ip) => Some((*ip).into()),
        url::Host::Domain(_) => None,
    };
    let name = match host {
        url::Host::Domain(domain) => domain.trim_end_matches('.').to_ascii_lowercase(),
        _ => String::new(),
    };
    list.split(',')
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some(ip) = ip {
                let entry = entry.trim_start_matches('[').trim_end_matches(']');
                return cidr_contains(entry, ip);
            }
            let entry = entry.trim_start_matches("*.").trim_start_matches('.');
            // An entry may carry a port ("example.com:443"); the host part is what counts.
            let entry = entry.split(':').next().unwrap_or(entry);
            name == entry || name.ends_with(&format!(".{entry}"))
        })
}

fn cidr_contains(entry: &str, ip: std::net::IpAddr) -> bool {
    let (address, bits) = match entry.split_once('/') {
        Some((address, bits)) => (address, bits.parse::<u32>().ok()),
        None => (entry, None),
    };
    let Ok(network) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    match (network, ip) {
        (std::net::IpAddr::V4(network), std::net::IpAddr::V4(ip)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(network) & mask == u32::from(ip) & mask
        }
        (std::net::IpAddr::V6(network), std::net::IpAddr::V6(ip)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(network) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

/// What a built client depends on: when any of it changes, the client (and its pool) is
/// built again, so a changed `caFile` or `proxy` applies to the next request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKey {
    pub connect_timeout: Duration,
    pub proxy: Option<ChosenProxy>,
    /// The certificate file and its length and modification time when it was read.
    pub ca_file: Option<(PathBuf, Option<(u64, SystemTime)>)>,
}

impl ClientKey {
    pub fn new(connect_timeout: Duration, network: &Network, target: &Url) -> ClientKey {
        let env = |name: &str| std::env::var(name).ok();
        ClientKey {
            connect_timeout,
            proxy: choose_proxy(&network.proxy, target, &env),
            ca_file: network.ca_file.as_ref().map(|file| {
                let stamp = std::fs::metadata(&file.path)
                    .ok()
                    .and_then(|meta| Some((meta.len(), meta.modified().ok()?)));
                (file.path.clone(), stamp)
            }),
        }
    }
}

/// Why the client could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The certificate file could not be read or holds no certificate.
    CaFile {
        path: String,
        source: &'static str,
        detail: String,
    },
    Other(String),
}

/// The HTTP client for `key`: the system's roots plus the `caFile` ones, the chosen proxy
/// or none (the environment is never consulted by the library itself: chatls has already
/// decided), HTTP/2 when the upstream offers it over TLS, HTTP/1.1 keep-alive otherwise.
pub fn build_client(key: &ClientKey, network: &Network) -> Result<reqwest::Client, BuildError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(key.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("chatls/", env!("CARGO_PKG_VERSION")))
        .no_proxy();
    if let Some(file) = &network.ca_file {
        builder = builder.tls_certs_merge(read_certificates(&file.path, file.source)?);
    }
    if let Some(chosen) = &key.proxy {
        let proxy = reqwest::Proxy::all(chosen.url.expose().as_str())
            .map_err(|_| BuildError::Other(format!("the proxy {} is not usable", chosen.url)))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|error| BuildError::Other(error.to_string()))
}

/// The largest `caFile` read: the system's whole bundle is about 200 KB.
const MAX_CA_FILE_BYTES: usize = 16 * 1024 * 1024;

/// At most `max + 1` bytes of a file (one more than allowed, so "too large" can be told).
fn read_bounded(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn read_certificates(
    path: &Path,
    source: &'static str,
) -> Result<Vec<reqwest::Certificate>, BuildError> {
    let problem = |detail: String| BuildError::CaFile {
        path: path.display().to_string(),
        source,
        detail,
    };
    // A FIFO or a device would block or never end: only a regular file is read.
    let metadata = std::fs::metadata(path).map_err(|error| problem(error.to_string()))?;
    if !metadata.is_file() {
        return Err(problem("it is not a regular file".to_owned()));
    }
    let bytes =
        read_bounded(path, MAX_CA_FILE_BYTES).map_err(|error| problem(error.to_string()))?;
    if bytes.len() > MAX_CA_FILE_BYTES {
        return Err(problem(format!(
            "it is larger than {} MB; a file of certificates is a few hundred kilobytes",
            MAX_CA_FILE_BYTES / (1024 * 1024)
        )));
    }
    let certificates = reqwest::Certificate::from_pem_bundle(&bytes)
        .map_err(|_| problem("it is not a PEM file of certificates".to_owned()))?;
    if certificates.is_empty() {
        return Err(problem(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(certificates)
}

/// Holds back a cold-start burst to an `https` upstream until the first request has its
/// connection: the library cannot know before the TLS handshake whether the upstream speaks
/// HTTP/2, so without this every request of the burst opens its own connection and all but
/// one are dropped. Once the first request has its response headers, its connection is in
/// the pool (shared, for HTTP/2) and the others take it; an HTTP/1.1 upstream gets its own
/// keep-alive connections as before. A failed first request lets the next one try.
#[derive(Default)]
pub struct FirstConnection {
    opened: AtomicBool,
    gate: tokio::sync::Mutex<()>,
}

/// Held by the one request that opens the first connection.
pub struct Opening<'a> {
    first: &'a FirstConnection,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Opening<'_> {
    /// The connection is up: let the others in.
    pub fn opened(self) {
        self.first.opened.store(true, Ordering::Release);
    }
}

impl FirstConnection {
    /// `None` when the connection is known (go ahead), `Some` when this request opens it.
    /// Waiting ends after `wait` at most (then the request goes ahead on its own) or at
    /// `cancel`.
    pub async fn enter(&self, wait: Duration, cancel: &CancellationToken) -> Option<Opening<'_>> {
        if self.opened.load(Ordering::Acquire) {
            return None;
        }
        let turn = tokio::select! {
            biased;
            _ = cancel.cancelled() => return None,
            turn = tokio::time::timeout(wait, self.gate.lock()) => turn.ok()?,
        };
        if self.opened.load(Ordering::Acquire) {
            return None;
        }
        Some(Opening {
            first: self,
            _turn: turn,
        })
    }
}

/// A built client with what it was built for.
#[derive(Clone)]
pub struct Built {
    pub key: ClientKey,
    pub http: reqwest::Client,
    pub first: Arc<FirstConnection>,
}

/// What a transport error was, for the network people have.
#[derive(Debug, PartialEq, Eq)]
pub enum Diagnosis {
    /// The upstream's (or an inspecting proxy's) certificate is not trusted.
    Untrusted,
    /// The certificate is for another host name.
    WrongName,
    /// The proxy asked for credentials (407).
    ProxyAuth,
    /// The proxy could not be reached.
    ProxyUnreachable,
    /// The proxy answered the tunnel request with a failure (it could not reach the host).
    ProxyRefused,
    /// Anything else.
    Other,
}

/// Reads an error chain's text (the library's error types are not public enough to match).
pub fn diagnose(chain: &str, through_proxy: bool) -> Diagnosis {
    let lower = chain.to_ascii_lowercase();
    if lower.contains("invalid peer certificate") || lower.contains("certificate verify failed") {
        if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            return Diagnosis::WrongName;
        }
        return Diagnosis::Untrusted;
    }
    if through_proxy {
        if lower.contains("proxy authorization required")
            || lower.contains("proxy authentication required")
        {
            return Diagnosis::ProxyAuth;
        }
        if lower.contains("tunnel error: unsuccessful") {
            return Diagnosis::ProxyRefused;
        }
        if lower.contains("tunnel error")
            || lower.contains("tcp connect error")
            || lower.contains("dns error")
        {
            return Diagnosis::ProxyUnreachable;
        }
    }
    Diagnosis::Other
}

#[cfg(test)]
mod tests;
