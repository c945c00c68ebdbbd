//! tools (to be written)
