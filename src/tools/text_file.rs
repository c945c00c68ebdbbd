//! What counts as a text file: its bytes as a string (no NUL byte, valid UTF-8, a leading BOM
//! dropped), or the sentence that refuses a binary one. Shared by `read_file` and staging; it
//! never opens or reads a file itself.

/// The bytes as text, or a refusal for binary files.
pub(crate) fn text_of(bytes: Vec<u8>, shown: &str) -> Result<String, String> {
    if bytes.contains(&0) {
        return Err(format!(
            "`{shown}` looks like a binary file (it contains NUL bytes), so it is not shown"
        ));
    }
    let mut text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "`{shown}` looks like a binary file (it is not valid UTF-8 text), so it is not shown"
        )
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}
