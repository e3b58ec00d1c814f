// A misspelt argument on `#[aiolos::test]`: the error names it and says what is accepted.

#[aiolos::test(worker_thread = 2)]
async fn runs() {}

fn main() {}
