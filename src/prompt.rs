//! prompt (to be written)
