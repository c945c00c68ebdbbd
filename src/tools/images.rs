//! Image attachment: find image references in text (markdown, HTML, string literals, bare
//! paths), load them through the sandbox with size and count caps, check their type by
//! magic bytes and turn them into `data:` URLs for `image_url` content parts.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use base64::prelude::*;
use regex::Regex;

use super::Limits;
use super::sandbox::{Opened, Sandbox};

/// An image ready to attach: checked MIME type, raw bytes and where it came from
/// (workspace-relative path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub mime: &'static str,
    pub bytes: Vec<u8>,
    pub source: String,
}

/// The MIME type of an image the upstream accepts, by magic bytes; `None` for anything else.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// `data:<mime>;base64,<bytes>`.
pub fn data_url(image: &Image) -> String {
    format!(
        "data:{};base64,{}",
        image.mime,
        BASE64_STANDARD.encode(&image.bytes)
    )
}

static MARKDOWN_IMAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"!\[[^\]\n]*\]\(\s*(?:<([^>\n]+)>|([^)\s]+))(?:\s+(?:"[^"\n]*"|'[^'\n]*'))?\s*\)"#)
        .unwrap()
});
static HTML_IMAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<img\b[^>]*?\bsrc\s*=\s*(?:"([^"\n]+)"|'([^'\n]+)'|([^\s>]+))"#).unwrap()
});
static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)"([^"\n]+\.(?:png|jpe?g|webp|gif))"|'([^'\n]+\.(?:png|jpe?g|webp|gif))'|`([^`\n]+\.(?:png|jpe?g|webp|gif))`"#)
        .unwrap()
});
static BARE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[\w./\\~@+%:-]+").unwrap());

const IMAGE_EXTENSIONS: &[&str] = &[".png", ".jpg", ".jpeg", ".webp", ".gif"];

fn has_image_extension(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    IMAGE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

fn is_remote(reference: &str) -> bool {
    let lower = reference.to_ascii_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("data:")
        || lower.starts_with("//")
        || lower.contains("://")
}

/// Image paths referenced by `text`, in order of first appearance, deduplicated: markdown
/// `![alt](path "title")`, `<img src="...">`, quoted string literals and bare tokens ending
/// in .png/.jpg/.jpeg/.webp/.gif (any case). Remote (`http(s)://`) and `data:` URLs are
/// skipped.
pub fn find_references(text: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut covered: Vec<std::ops::Range<usize>> = Vec::new();

    for regex in [&*MARKDOWN_IMAGE, &*HTML_IMAGE, &*QUOTED] {
        for captures in regex.captures_iter(text) {
            let Some(whole) = captures.get(0) else {
                continue;
            };
            if covered.iter().any(|range| range.contains(&whole.start())) {
                continue;
            }
            covered.push(whole.range());
            if let Some(group) = captures.iter().skip(1).flatten().next() {
                found.push((whole.start(), group.as_str().trim().to_owned()));
            }
        }
    }
    for token in BARE.find_iter(text) {
        if covered.iter().any(|range| range.contains(&token.start())) {
            continue;
        }
        let trimmed = token.as_str().trim_end_matches(['.', ':', ',']);
        if has_image_extension(trimmed) {
            found.push((token.start(), trimmed.to_owned()));
        }
    }

    found.sort_by_key(|(position, _)| *position);
    let mut references: Vec<String> = Vec::new();
    for (_, reference) in found {
        // Markdown and HTML may point at any file; only image paths are kept.
        let path_part = reference
            .split(['?', '#'])
            .next()
            .unwrap_or(&reference)
            .to_owned();
        if path_part.is_empty() || is_remote(&reference) || !has_image_extension(&path_part) {
            continue;
        }
        if !references.contains(&path_part) {
            references.push(path_part);
        }
    }
    references
}

/// Loads the referenced images (relative to `base_dir` first, then to the workspace roots)
/// through the sandbox. Returns the images and one note per skipped reference.
pub fn load_images(
    sandbox: &Sandbox,
    base_dir: &Path,
    refs: &[String],
    limits: &Limits,
) -> (Vec<Image>, Vec<String>) {
    let mut images: Vec<Image> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for reference in refs {
        let path = match resolve_reference(sandbox, base_dir, reference) {
            Ok(path) => path,
            Err(refusal) => {
                notes.push(format!("skipped {reference}: {refusal}"));
                continue;
            }
        };
        if seen.contains(&path) {
            continue;
        }
        if images.len() >= limits.max_images {
            notes.push(format!(
                "skipped {reference}: at most {} images are attached",
                limits.max_images
            ));
            continue;
        }
        let source = sandbox.display(&path);
        let read = match sandbox.open(&path) {
            Ok(Opened::File { file, len }) => read_image(file, len, source, limits.max_image_bytes),
            Ok(Opened::Dir) => Err("it is a directory".to_owned()),
            Err(refusal) => Err(refusal.to_string()),
        };
        match read {
            Ok(image) => {
                seen.push(path);
                images.push(image);
            }
            Err(reason) => notes.push(format!("skipped {reference}: {reason}")),
        }
    }
    (images, notes)
}

fn resolve_reference(
    sandbox: &Sandbox,
    base_dir: &Path,
    reference: &str,
) -> Result<PathBuf, super::sandbox::Refusal> {
    let relative = Path::new(reference);
    if !relative.is_absolute() {
        let beside = base_dir.join(relative);
        if let Some(beside) = beside.to_str()
            && let Ok(path) = sandbox.resolve(beside)
        {
            return Ok(path);
        }
    }
    sandbox.resolve(reference)
}

/// Reads an image (at most `max_bytes`) from a regular file the sandbox opened, checking its
/// type by magic bytes.
pub(crate) fn read_image(
    file: fs::File,
    length: u64,
    source: String,
    max_bytes: usize,
) -> Result<Image, String> {
    if length > max_bytes as u64 {
        return Err(format!("larger than {}", human_size(max_bytes as u64)));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read it: {error}"))?;
    if bytes.len() > max_bytes {
        return Err(format!("larger than {}", human_size(max_bytes as u64)));
    }
    let Some(mime) = sniff(&bytes) else {
        return Err("not a png, jpeg, webp or gif image".to_owned());
    };
    Ok(Image {
        mime,
        bytes,
        source,
    })
}

/// `5 MB`, `256 KB`, `1.5 MB`, `900 bytes` (binary units, the way editors show sizes).
pub(crate) fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    let (unit, name) = if bytes >= MB {
        (MB, "MB")
    } else if bytes >= KB {
        (KB, "KB")
    } else {
        return format!("{bytes} bytes");
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.1} {name}", bytes as f64 / unit as f64)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    pub(crate) const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];

    #[test]
    fn sniff_by_magic_bytes() {
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(JPEG), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"GIF87a\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b"RIFF"), None);
        assert_eq!(sniff(b"hello world, not an image"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"GIF88a"), None);
    }

    #[test]
    fn data_url_decodes_back_to_the_same_bytes() {
        let image = Image {
            mime: "image/png",
            bytes: PNG.to_vec(),
            source: "a.png".into(),
        };
        let url = data_url(&image);
        let encoded = url.strip_prefix("data:image/png;base64,").unwrap();
        assert_eq!(BASE64_STANDARD.decode(encoded).unwrap(), PNG);
    }

    #[test]
    fn references_in_markdown_html_and_code() {
        let text = r#"
# Design
![logo](assets/logo.png "The logo") and ![](<docs/my shot.PNG>)
![remote](https://example.com/x.png) ![inline](data:image/png;base64,AAAA)
<img class="x" src="img/diagram.webp" alt="d">
<IMG SRC='img/other.GIF'>
let icon = load("icons/app icon.jpeg");
const SPLASH: &str = 'splash.jpg';
See screenshots/error.png, then assets/logo.png again.
A link [not an image](notes.md) and file.png.bak and archive.tar.gz.
http://host/bare.png
"#;
        assert_eq!(
            find_references(text),
            vec![
                "assets/logo.png",
                "docs/my shot.PNG",
                "img/diagram.webp",
                "img/other.GIF",
                "icons/app icon.jpeg",
                "splash.jpg",
                "screenshots/error.png",
            ]
        );
        assert!(find_references("no images here, just code.rs").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn find_references_never_panics_and_returns_image_paths(text in "\\PC{0,300}") {
            for reference in find_references(&text) {
                proptest::prop_assert!(has_image_extension(&reference));
                proptest::prop_assert!(!is_remote(&reference));
            }
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(5 * 1024 * 1024), "5 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(256 * 1024), "256 KB");
        assert_eq!(human_size(12), "12 bytes");
    }

    #[test]
    fn load_images_caps_size_and_count_with_notes() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir_all(root.join("docs")).unwrap();
        for name in ["a.png", "b.png", "c.png"] {
            fs::write(root.join("docs").join(name), PNG).unwrap();
        }
        let mut big = PNG.to_vec();
        big.resize(4096, 0);
        fs::write(root.join("docs/big.png"), &big).unwrap();
        fs::write(root.join("docs/fake.png"), "just text").unwrap();
        fs::write(root.join("top.jpg"), JPEG).unwrap();
        fs::write(root.join(".env.png"), PNG).unwrap();
        let sandbox = Sandbox::new(vec![root.clone()], &[]);
        let limits = Limits {
            max_image_bytes: 1024,
            max_images: 3,
            ..Limits::default()
        };
        let refs: Vec<String> = [
            "a.png",
            "big.png",
            "fake.png",
            "a.png",
            "top.jpg",
            "../outside.png",
            "missing.png",
            ".env.png",
            "b.png",
            "c.png",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (images, notes) = load_images(&sandbox, &root.join("docs"), &refs, &limits);
        let sources: Vec<&str> = images.iter().map(|image| image.source.as_str()).collect();
        assert_eq!(sources, vec!["docs/a.png", "top.jpg", "docs/b.png"]);
        assert_eq!(images[0].bytes, PNG);
        assert_eq!(images[1].mime, "image/jpeg");
        assert_eq!(
            notes,
            vec![
                "skipped big.png: larger than 1 KB",
                "skipped fake.png: not a png, jpeg, webp or gif image",
                "skipped ../outside.png: refused: `../outside.png` is outside the workspace",
                "skipped missing.png: not found: `missing.png` does not exist in the workspace",
                "skipped .env.png: refused: `.env.png` may contain secrets, so it is never read or listed",
                "skipped c.png: at most 3 images are attached",
            ]
        );
    }
}
