#[faust::record]
struct Click {
    user: String,
    page: String,
}

fn page_of(name: &String) -> String {
    name.clone()
}

#[faust::agent(topic = "clicks", group_by = page_of)]
async fn count(click: Click) -> faust::Result<()> {
    let _ = (click.user, click.page);
    Ok(())
}

fn main() {}
