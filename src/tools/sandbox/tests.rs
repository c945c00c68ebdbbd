use super::*;
use crate::tools::test_support::make_fifo;

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let ws = base.join("ws");
    let outside = base.join("outside");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::create_dir_all(ws.join("sub/.ssh")).unwrap();
    fs::create_dir_all(ws.join(".git")).unwrap();
    fs::create_dir_all(ws.join("private")).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(ws.join("src/lib.rs"), "fn main() {}\n").unwrap();
    fs::write(ws.join(".env"), "API_KEY=sk-secret\n").unwrap();
    fs::write(ws.join(".env.local"), "API_KEY=sk-secret\n").unwrap();
    fs::write(ws.join(".git/config"), "[core]\n").unwrap();
    fs::write(ws.join("sub/.ssh/id_rsa"), "KEY").unwrap();
    fs::write(ws.join("server.pem"), "PEM").unwrap();
    fs::write(ws.join("private/notes.txt"), "private").unwrap();
    fs::write(outside.join("secret.txt"), "outside secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), ws.join("link_file")).unwrap();
    std::os::unix::fs::symlink(&outside, ws.join("link_dir")).unwrap();
    std::os::unix::fs::symlink(ws.join("src/lib.rs"), ws.join("inner_link")).unwrap();
    std::os::unix::fs::symlink(ws.join(".env"), ws.join("innocent.txt")).unwrap();
    Fixture {
        _dir: dir,
        ws,
        outside,
    }
}

fn sandbox(fixture: &Fixture) -> Sandbox {
    Sandbox::new(vec![fixture.ws.clone()], &["private/**".to_owned()])
}

#[test]
fn resolves_relative_absolute_and_inner_symlinks() {
    let fixture = fixture();
    let sandbox = sandbox(&fixture);
    let lib = fixture.ws.join("src/lib.rs");
    assert_eq!(sandbox.resolve("src/lib.rs"), Ok(lib.clone()));
    assert_eq!(sandbox.resolve("./src/../src/lib.rs"), Ok(lib.clone()));
    assert_eq!(sandbox.resolve(lib.to_str().unwrap()), Ok(lib.clone()));
    assert_eq!(sandbox.resolve("inner_link"), Ok(lib.clone()));
    assert_eq!(sandbox.resolve(""), Ok(fixture.ws.clone()));
    assert_eq!(sandbox.resolve("."), Ok(fixture.ws.clone()));
    assert_eq!(sandbox.display(&lib), "src/lib.rs");
    assert_eq!(sandbox.display(&fixture.ws), ".");
}

#[test]
fn attack_table_is_refused_with_readable_messages() {
    let fixture = fixture();
    let sandbox = sandbox(&fixture);
    let fifo = fixture.ws.join("pipe");
    make_fifo(&fifo);
    let sibling = fixture.outside.join("secret.txt");
    let sibling = sibling.to_str().unwrap();
    let cases: Vec<(&str, Refusal)> = vec![
        (
            "../outside/secret.txt",
            Refusal::Outside {
                path: "../outside/secret.txt".into(),
            },
        ),
        (
            "/etc/passwd",
            Refusal::Outside {
                path: "/etc/passwd".into(),
            },
        ),
        (
            sibling,
            Refusal::Outside {
                path: sibling.into(),
            },
        ),
        (
            "link_file",
            Refusal::SymlinkOutside {
                path: "link_file".into(),
            },
        ),
        (
            "link_dir",
            Refusal::SymlinkOutside {
                path: "link_dir".into(),
            },
        ),
        (
            "link_dir/secret.txt",
            Refusal::SymlinkOutside {
                path: "link_dir/secret.txt".into(),
            },
        ),
        (
            "/proc/self/environ",
            Refusal::SystemPath {
                path: "/proc/self/environ".into(),
            },
        ),
        (
            ".env",
            Refusal::Secret {
                path: ".env".into(),
            },
        ),
        (
            ".env.local",
            Refusal::Secret {
                path: ".env.local".into(),
            },
        ),
        (
            ".git/config",
            Refusal::Secret {
                path: ".git/config".into(),
            },
        ),
        (
            "sub/.ssh/id_rsa",
            Refusal::Secret {
                path: "sub/.ssh/id_rsa".into(),
            },
        ),
        (
            "server.pem",
            Refusal::Secret {
                path: "server.pem".into(),
            },
        ),
        (
            "innocent.txt",
            Refusal::Secret {
                path: "innocent.txt".into(),
            },
        ),
        (
            "pipe",
            Refusal::NotRegular {
                path: "pipe".into(),
            },
        ),
        ("src/lib.rs\0", Refusal::NulByte),
        (
            "private/notes.txt",
            Refusal::Denied {
                path: "private/notes.txt".into(),
                pattern: "private/**".into(),
            },
        ),
        (
            "missing.rs",
            Refusal::NotFound {
                path: "missing.rs".into(),
            },
        ),
        (
            "../outside/missing.rs",
            Refusal::Outside {
                path: "../outside/missing.rs".into(),
            },
        ),
    ];
    for (requested, expected) in cases {
        let refusal = sandbox.resolve(requested).unwrap_err();
        assert_eq!(refusal, expected, "for {requested:?}");
        let message = refusal.to_string();
        assert!(!message.ends_with('.'), "{message}");
        assert!(!message.contains("outside secret"), "{message}");
    }
    assert_eq!(
        sandbox.resolve("../x").unwrap_err().to_string(),
        "refused: `../x` is outside the workspace"
    );
}

#[test]
fn secrets_and_denies_are_checked_per_component() {
    let fixture = fixture();
    let sandbox = sandbox(&fixture);
    assert!(sandbox.is_denied(&fixture.ws.join(".git/HEAD")));
    assert!(sandbox.is_denied(&fixture.ws.join("a/b/credentials.json")));
    assert!(sandbox.is_denied(&fixture.ws.join("deploy/TLS.KEY")));
    assert!(sandbox.is_denied(&fixture.ws.join("private/x/y.txt")));
    assert!(sandbox.is_denied(&fixture.outside.join("secret.txt")));
    assert!(!sandbox.is_denied(&fixture.ws.join("src/keyboard.rs")));
    assert!(!sandbox.is_denied(&fixture.ws.join("src/environment.rs")));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    #[test]
    fn any_requested_path_resolves_inside_a_root_or_is_refused(
        requested in "(\\.\\./|\\./|/|src/|link_dir/|\\.env|\\.git/|[a-z.]{1,6}|\\PC{0,4}){0,6}"
    ) {
        let fixture = fixture();
        let sandbox = sandbox(&fixture);
        if let Ok(path) = sandbox.resolve(&requested) {
            proptest::prop_assert!(path.starts_with(&fixture.ws), "{path:?}");
            proptest::prop_assert!(!sandbox.is_denied(&path), "{path:?}");
        }
    }
}

#[test]
fn missing_roots_are_skipped_and_several_roots_are_prefixed() {
    let fixture = fixture();
    let other = fixture.outside.clone();
    let sandbox = Sandbox::new(
        vec![
            fixture.ws.clone(),
            PathBuf::from("/definitely/not/here"),
            other.clone(),
        ],
        &[],
    );
    assert_eq!(sandbox.roots(), &[fixture.ws.clone(), other.clone()]);
    let secret = other.join("secret.txt");
    assert_eq!(sandbox.display(&secret), "outside/secret.txt");
    assert_eq!(sandbox.resolve("outside/secret.txt"), Ok(secret.clone()));
    assert_eq!(sandbox.resolve("secret.txt"), Ok(secret));
    let empty = Sandbox::new(vec![], &[]);
    assert_eq!(empty.resolve("x"), Err(Refusal::NoWorkspace));
}

#[test]
fn deny_globs_from_the_configuration_match_in_any_case() {
    let fixture = fixture();
    fs::create_dir_all(fixture.ws.join("Vendor")).unwrap();
    fs::write(fixture.ws.join("Vendor/lib.js"), "x").unwrap();
    let sandbox = Sandbox::new(
        vec![fixture.ws.clone()],
        &["vendor/**".to_owned(), "*.TXT".to_owned()],
    );
    assert_eq!(
        sandbox.resolve("Vendor/lib.js"),
        Err(Refusal::Denied {
            path: "Vendor/lib.js".into(),
            pattern: "vendor/**".into()
        })
    );
    assert!(matches!(
        sandbox.resolve("private/notes.txt"),
        Err(Refusal::Denied { .. })
    ));
    assert!(sandbox.is_denied(&fixture.ws.join("VENDOR/x.js")));
    assert!(!sandbox.is_denied(&fixture.ws.join("src/lib.rs")));
}

#[test]
fn the_file_system_root_and_folders_inside_secret_directories_are_refused_as_roots() {
    let fixture = fixture();
    fs::create_dir_all(fixture.ws.join(".git/hooks")).unwrap();
    fs::create_dir_all(fixture.ws.join("home/.AWS")).unwrap();
    for refused in [
        PathBuf::from("/"),
        PathBuf::from("/proc"),
        fixture.ws.join(".git"),
        fixture.ws.join(".git/hooks"),
        fixture.ws.join("sub/.ssh"),
        fixture.ws.join("home/.AWS"),
        // Spelled through `..`, still the root.
        PathBuf::from("/tmp/.."),
    ] {
        assert!(
            matches!(check_root(&refused), Err(RootProblem::Refused(_))),
            "{refused:?}: {:?}",
            check_root(&refused)
        );
    }
    assert_eq!(check_root(&fixture.ws), Ok(fixture.ws.clone()));
    assert!(matches!(
        check_root(&fixture.ws.join("missing")),
        Err(RootProblem::Unusable(_))
    ));

    let sandbox = Sandbox::new(vec![fixture.ws.join(".git"), PathBuf::from("/")], &[]);
    assert!(sandbox.roots().is_empty());
    let refusal = sandbox.resolve("config").unwrap_err();
    let message = refusal.to_string();
    assert!(
        message.contains("is inside `.git`") && message.contains("whole file system"),
        "{message}"
    );
    assert!(sandbox.resolve("etc/passwd").is_err());
    // A refused folder beside a good one leaves the good one.
    let sandbox = Sandbox::new(vec![fixture.ws.clone(), fixture.ws.join(".git")], &[]);
    assert_eq!(sandbox.roots(), std::slice::from_ref(&fixture.ws));
}

#[test]
fn open_refuses_what_was_swapped_in_after_the_check() {
    let fixture = fixture();
    let sandbox = sandbox(&fixture);
    let lib = sandbox.resolve("src/lib.rs").unwrap();
    assert!(matches!(
        sandbox.open(&lib),
        Ok(Opened::File { len: 13, .. })
    ));
    assert!(matches!(sandbox.open(&fixture.ws), Ok(Opened::Dir)));

    // The directory becomes a link to outside, holding a lib.rs of its own.
    fs::write(fixture.outside.join("lib.rs"), "outside secret").unwrap();
    fs::rename(fixture.ws.join("src"), fixture.ws.join("src.real")).unwrap();
    std::os::unix::fs::symlink(&fixture.outside, fixture.ws.join("src")).unwrap();
    assert_eq!(
        sandbox.open(&lib).unwrap_err(),
        Refusal::Changed {
            path: "src/lib.rs".into()
        }
    );
    fs::remove_file(fixture.ws.join("src")).unwrap();
    fs::rename(fixture.ws.join("src.real"), fixture.ws.join("src")).unwrap();

    // The file becomes a link, then a FIFO.
    fs::remove_file(&lib).unwrap();
    std::os::unix::fs::symlink(fixture.outside.join("lib.rs"), &lib).unwrap();
    assert!(matches!(sandbox.open(&lib), Err(Refusal::Changed { .. })));
    fs::remove_file(&lib).unwrap();
    make_fifo(&lib);
    assert_eq!(
        sandbox.open(&lib).unwrap_err(),
        Refusal::NotRegular {
            path: "src/lib.rs".into()
        }
    );
    // Secrets stay refused at open time too.
    assert!(matches!(
        sandbox.open(&fixture.ws.join(".env")),
        Err(Refusal::Secret { .. })
    ));
}

#[test]
fn names_are_displayed_with_control_characters_escaped() {
    let fixture = fixture();
    let sandbox = sandbox(&fixture);
    let evil = fixture.ws.join("a\nmain.py:1: forged\u{1b}[2J\u{202e}");
    assert_eq!(
        sandbox.display(&evil),
        "a\\nmain.py:1: forged\\u{1b}[2J\\u{202e}"
    );
    assert_eq!(
        sandbox.display(&fixture.ws.join("plain/é.rs")),
        "plain/é.rs"
    );
}
