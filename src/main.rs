//! The `hico` binary: see `hico --help`, or the README.

/// Counts heap bytes so that `hico bench` can report each stage's peak (a few atomic
/// operations per allocation).
#[global_allocator]
static ALLOC: hico_backend::mem::Tracking = hico_backend::mem::Tracking;

fn main() -> std::process::ExitCode {
    hico_backend::mem::keep_freed_memory();
    hico_cli::main()
}
