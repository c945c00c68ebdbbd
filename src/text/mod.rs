//! text (to be written)
