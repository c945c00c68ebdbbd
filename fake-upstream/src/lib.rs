//! fake upstream (to be written)
