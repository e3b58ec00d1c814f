// `worker_threads = 0` would make `Builder::build` fail at run time: refuse it at compile time.

#[aiolos::main(worker_threads = 0)]
async fn main() {}
