use faust::prelude::*;

struct Click {
    page: String,
}

#[faust::agent(topic = "clicks")]
async fn clicks(mut stream: Stream<Click>) -> Result<()> {
    while let Some(click) = stream.next().await {
        let _ = click.page;
    }
    Ok(())
}

fn main() {}
