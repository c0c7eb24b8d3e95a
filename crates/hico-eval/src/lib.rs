//! hico-eval
