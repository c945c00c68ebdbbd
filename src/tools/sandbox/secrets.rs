//! What a secret looks like by its name: directories whose whole content is credentials
//! (`.git`, `.ssh`, `.aws`, ...), files that hold keys, tokens or passwords (`.env` and
//! `*.env`, private keys, keystores, credential files of known tools, shell histories).
//! Pure: names in, a verdict out; matched case-insensitively, whatever an ignore file says.

use std::sync::LazyLock;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Directories whose every file is secret (or is repository internals): nothing below them
/// is read, and a workspace folder inside one is refused.
pub const SECRET_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".gcloud",
    ".docker",
    ".kube",
    ".password-store",
    ".terraform.d",
    ".vault",
];

/// File-name patterns that mark a secret, grouped by what they hold. Matched against one
/// lowercased path component at a time.
const SECRET_FILES: &[&str] = &[
    // Environment files: `.env`, `.env.local`, `prod.env`, direnv's `.envrc`.
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    // Private keys, certificates bundles with keys, keystores and password vaults.
    "*.pem",
    "*.key",
    "*.p8",
    "*.p12",
    "*.pfx",
    "*.ppk",
    "*.jks",
    "*.keystore",
    "*.bks",
    "*.keytab",
    "*.kdbx",
    "*.keychain",
    "*.keychain-db",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "id_xmss*",
    // Credential and token files of known tools.
    "credentials*",
    ".git-credentials",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".pgpass",
    ".my.cnf",
    ".htpasswd",
    "htpasswd",
    ".vault-token",
    ".dockercfg",
    ".boto",
    ".s3cfg",
    ".terraformrc",
    "terraform.rc",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfvars",
    "kubeconfig*",
    "service-account*.json",
    "secrets.yaml",
    "secrets.yml",
    "secrets.json",
    "secrets.toml",
    "secrets.ini",
    "secret.yaml",
    "secret.yml",
    "secret.json",
    "*.secret",
    "*.secrets",
    // Shell and tool histories often hold pasted tokens.
    ".*_history",
    ".histfile",
];

static SECRET_SET: LazyLock<GlobSet> = LazyLock::new(|| {
    let mut builder = GlobSetBuilder::new();
    for pattern in SECRET_DIRS.iter().chain(SECRET_FILES) {
        // Constant patterns, known to be valid; matched against lowercased names so that
        // case-sensitive globs keep globset's fast paths.
        if let Ok(glob) = Glob::new(pattern) {
            builder.add(glob);
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
});

/// True when a single file or directory name marks a secret, in any letter case, and with
/// the trailing dots and spaces that Windows (and SMB shares) drop from a name: `.env.` and
/// `id_rsa ` open `.env` and `id_rsa` there.
pub fn is_secret_name(name: &str) -> bool {
    let trimmed = name.trim_end_matches(['.', ' ']);
    matches_secret(name) || (trimmed.len() != name.len() && matches_secret(trimmed))
}

fn matches_secret(name: &str) -> bool {
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        SECRET_SET.is_match(name.to_ascii_lowercase())
    } else {
        SECRET_SET.is_match(name)
    }
}

/// True when a directory name is one whose whole content is secret (`.git`, `.ssh`, ...).
pub fn is_secret_dir(name: &str) -> bool {
    let trimmed = name.trim_end_matches(['.', ' ']);
    SECRET_DIRS
        .iter()
        .any(|secret| secret.eq_ignore_ascii_case(name) || secret.eq_ignore_ascii_case(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_attack_report_are_secrets_in_any_case() {
        for name in [
            ".envrc",
            ".git-credentials",
            "prod.env",
            "PROD.ENV",
            ".env",
            ".ENV",
            ".env.production",
            "id_ecdsa",
            "id_ecdsa.pub",
            "id_dsa",
            "ID_RSA",
            "id_ed25519",
            ".docker",
            ".kube",
            "config.json.secret",
            ".pgpass",
            ".htpasswd",
            ".vault-token",
            "secrets.yaml",
            "Secrets.YML",
            "release.jks",
            "debug.keystore",
            "server.PEM",
            "credentials.json",
            "Credentials",
            "terraform.tfstate",
            "prod.tfvars",
            ".bash_history",
            ".zsh_history",
            ".git",
            ".SSH",
            ".aws",
            ".env.",
            "server.pem.",
            "ID_RSA ",
            ".git.",
            "Credentials.JSON..",
        ] {
            assert!(is_secret_name(name), "{name} should be secret");
        }
    }

    #[test]
    fn ordinary_source_names_are_not_secrets() {
        for name in [
            "secret.rs",
            "secrets.py",
            "environment.rs",
            "env.rs",
            "keyboard.rs",
            "key.rs",
            "keys",
            "monkey.ts",
            "config.json",
            "docker-compose.yml",
            "Dockerfile",
            "kube.go",
            "README.md",
            ".gitignore",
            ".github",
            ".editorconfig",
            "main.py",
            "history.rs",
            "token.rs",
            "envelope.txt",
        ] {
            assert!(!is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn secret_dirs_are_known_by_name() {
        assert!(is_secret_dir(".git"));
        assert!(is_secret_dir(".SSH"));
        assert!(is_secret_dir(".aws"));
        assert!(!is_secret_dir("git"));
        assert!(!is_secret_dir(".env"));
    }
}
