// `worker_threads` given a string: the error points at the string.

#[aiolos::main(worker_threads = "x")]
async fn main() {}
