//! edits (to be written)
