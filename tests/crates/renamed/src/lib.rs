//! Nothing here: the tests in tests/ use taskleak renamed to `tl`.
