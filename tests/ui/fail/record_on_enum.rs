#[faust::record]
enum Status {
    Open,
    Closed,
}

fn main() {}
