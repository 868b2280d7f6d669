#[faust::record]
struct Envelope<T> {
    body: T,
}

fn main() {}
