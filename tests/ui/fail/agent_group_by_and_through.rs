fn page_of(page: &String) -> String {
    page.clone()
}

#[faust::agent(topic = "clicks", group_by(key = page_of, nom = "x"), through = "clicks-2")]
async fn count(page: String) -> faust::Result<()> {
    let _ = page;
    Ok(())
}

fn main() {}
