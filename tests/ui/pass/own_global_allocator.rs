//! With the `jemalloc` feature off (this package builds faust-rs without
//! default features), `faust::global_allocator!` declares nothing, and a
//! program keeps a `#[global_allocator]` of its own.

#[global_allocator]
static OWN: std::alloc::System = std::alloc::System;

faust::global_allocator!();

fn main() {
    let boxed = Box::new(7u64);
    assert_eq!(*boxed, 7);
}
