//! hico-train
