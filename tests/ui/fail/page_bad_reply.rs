use faust::prelude::*;

// Neither `Serialize` nor a `Reply`: the page cannot answer with it.
struct Secret {
    code: u64,
}

#[faust::page("/secret")]
async fn secret() -> Result<Secret> {
    Ok(Secret { code: 1 })
}

fn main() {
    let _ = Secret { code: 2 }.code;
}
