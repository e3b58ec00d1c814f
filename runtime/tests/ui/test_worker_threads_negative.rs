// `worker_threads` given a negative number: the error points at it.

#[aiolos::test(worker_threads = -1)]
async fn runs() {}

fn main() {}
