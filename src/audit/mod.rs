//! See the crate docs: this stage is being built.
