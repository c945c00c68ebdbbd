//! conversation (to be written)
