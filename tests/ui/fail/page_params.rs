use faust::prelude::*;

// The path's `{day}` has no argument, `limit` is neither in the path nor
// optional, and a path parameter cannot be optional.
#[faust::page("/counts/{word}/{day}")]
async fn count(word: Option<String>, limit: u32) -> Result<u64> {
    let _ = (word, limit);
    Ok(0)
}

// A parameter is a whole segment, and the path starts with `/`.
#[faust::page("counts/x{word}")]
async fn half(word: String) -> Result<u64> {
    let _ = word;
    Ok(0)
}

fn main() {}
