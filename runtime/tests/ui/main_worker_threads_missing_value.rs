// `worker_threads` without `= N`: the error points at the name.

#[aiolos::main(worker_threads)]
async fn main() {}
