// `worker_threads` given twice: the error points at the second one.

#[aiolos::main(worker_threads = 2, worker_threads = 4)]
async fn main() {}
