//! explain (to be written)
