// Not a `Result`: the macro cannot tell from syntax, the type checker does.
#[faust::timer(interval = "1s")]
async fn report() -> String {
    String::new()
}

fn main() {}
