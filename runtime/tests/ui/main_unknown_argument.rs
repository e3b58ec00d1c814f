// An argument other than `worker_threads`: the error names it and says what is accepted.

#[aiolos::main(flavor = "current_thread")]
async fn main() {}
