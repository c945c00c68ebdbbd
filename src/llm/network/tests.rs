use super::*;

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    }
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn the_setting_beats_the_environment_and_loopback_is_never_proxied() {
    let env = env_of(&[("HTTPS_PROXY", "http://env-proxy:3128")]);
    let setting = ProxySetting::parse("http://user:pw-secret@set-proxy:8080").unwrap();
    let chosen = choose_proxy(&setting, &url("https://api.example.com/v1"), &env).unwrap();
    assert_eq!(chosen.source, PROXY_SETTING);
    assert_eq!(chosen.url.shown(), "http://set-proxy:8080");
    let chosen = choose_proxy(
        &ProxySetting::FromEnvironment,
        &url("https://api.example.com/v1"),
        &env,
    )
    .unwrap();
    assert_eq!(chosen.source, "HTTPS_PROXY");
    assert_eq!(
        choose_proxy(&ProxySetting::Direct, &url("https://api.example.com"), &env),
        None
    );
    for local in [
        "http://127.0.0.1:8080/v1",
        "http://localhost/v1",
        "https://[::1]/v1",
        "http://llm.localhost/v1",
    ] {
        assert_eq!(choose_proxy(&setting, &url(local), &env), None, "{local}");
    }
}

#[test]
fn the_variable_follows_the_scheme_and_no_proxy_is_honoured() {
    let env = env_of(&[
        ("http_proxy", "http://plain:1"),
        ("HTTPS_PROXY", "http://secure:2"),
        ("NO_PROXY", "internal.example, .corp, 10.0.0.0/8"),
    ]);
    let pick = |target: &str| {
        choose_proxy(&ProxySetting::FromEnvironment, &url(target), &env).map(|chosen| chosen.source)
    };
    assert_eq!(
        pick("http://api.example.com").as_deref(),
        Some("http_proxy")
    );
    assert_eq!(
        pick("https://api.example.com").as_deref(),
        Some("HTTPS_PROXY")
    );
    assert_eq!(pick("https://internal.example/v1"), None);
    assert_eq!(pick("https://a.b.corp/v1"), None);
    assert_eq!(pick("https://10.2.3.4/v1"), None);
    assert_eq!(pick("https://11.2.3.4/v1").as_deref(), Some("HTTPS_PROXY"));
    let all = env_of(&[("ALL_PROXY", "socks5h://s:1080")]);
    let chosen = choose_proxy(&ProxySetting::FromEnvironment, &url("https://x.io"), &all).unwrap();
    assert_eq!(chosen.source, "ALL_PROXY");
    let star = env_of(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]);
    assert_eq!(
        choose_proxy(&ProxySetting::FromEnvironment, &url("https://x.io"), &star),
        None
    );
}

#[test]
fn credentials_never_print() {
    let setting = ProxySetting::parse("http://alice:s3cr%40t-pw@proxy.corp:3128").unwrap();
    let shown = format!("{setting:?}");
    assert!(
        !shown.contains("alice") && !shown.contains("s3cr"),
        "{shown}"
    );
    let ProxySetting::Url(proxy) = &setting else {
        panic!("a URL")
    };
    let scrubbed = proxy.scrub("auth alice:s3cr@t-pw and s3cr%40t-pw");
    assert!(
        !scrubbed.contains("alice") && !scrubbed.contains("s3cr"),
        "{scrubbed}"
    );
    let error = ProxySetting::parse("ftp://alice:s3cr3t@x").unwrap_err();
    assert!(
        !error.contains("s3cr3t") && !error.contains("alice"),
        "{error}"
    );
    assert_eq!(ProxySetting::parse(" none ").unwrap(), ProxySetting::Direct);
    assert_eq!(
        ProxySetting::parse("proxy.corp:3128").unwrap(),
        ProxySetting::Url(ProxyUrl::parse("http://proxy.corp:3128").unwrap())
    );
}

#[test]
fn errors_are_told_apart_by_their_text() {
    assert_eq!(
        diagnose(
            "client error (Connect): invalid peer certificate: UnknownIssuer",
            false
        ),
        Diagnosis::Untrusted
    );
    assert_eq!(
        diagnose("invalid peer certificate: NotValidForName", true),
        Diagnosis::WrongName
    );
    assert_eq!(
        diagnose(
            "client error (Connect): tunnel error: proxy authorization required",
            true
        ),
        Diagnosis::ProxyAuth
    );
    assert_eq!(
        diagnose(
            "tunnel error: failed to create underlying connection: tcp connect error",
            true
        ),
        Diagnosis::ProxyUnreachable
    );
    assert_eq!(
        diagnose("client error (Connect): tunnel error: unsuccessful", true),
        Diagnosis::ProxyRefused
    );
    assert_eq!(diagnose("tcp connect error", false), Diagnosis::Other);
}

#[test]
fn a_ca_file_is_read_only_when_regular_and_small() {
    let device = read_certificates(Path::new("/dev/zero"), "the `caFile` setting");
    let Err(BuildError::CaFile { detail, .. }) = device else {
        panic!("/dev/zero was read");
    };
    assert_eq!(detail, "it is not a regular file");
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.pem");
    std::fs::write(&huge, vec![b'-'; MAX_CA_FILE_BYTES + 10]).unwrap();
    let Err(BuildError::CaFile { detail, .. }) = read_certificates(&huge, "CHATLS_CA_FILE") else {
        panic!("a 16 MB file was read");
    };
    assert!(detail.contains("larger than 16 MB"), "{detail}");
}
