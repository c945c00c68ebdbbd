//! lsp (to be written)
