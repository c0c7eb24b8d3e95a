//! hico-llm
