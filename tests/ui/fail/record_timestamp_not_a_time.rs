#[faust::record(timestamp = "at")]
struct View {
    page: String,
    at: String,
}

fn main() {}
