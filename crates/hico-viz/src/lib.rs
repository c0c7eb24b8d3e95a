//! hico-viz
