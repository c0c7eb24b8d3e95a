//! hico-model
