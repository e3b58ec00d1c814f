//! A producer and a consumer, each a task, passing items through a `Queue`:
//! the producer puts what it makes, the consumer takes it, handles it and
//! marks it done, and `main` waits with `join()` until every item is done.
//!
//! The seed (`seeds/002_*.txt` P8, its last section, "Python
//! 协程-asyncio、async/await") describes this in prose only:
//! "Task类提供了一种实现异步生产者消费者模型的途径。在这样的模型中，生产者创建
//! 任务并将结果传递给消费者，消费者处理这些结果". Written out in Python:
//!
//! ```python
//! import asyncio
//!
//! async def producer(queue, n):
//!     for x in range(1, n + 1):
//!         print('producing {}/{}'.format(x, n))
//!         await asyncio.sleep(1)            # making it takes a while
//!         await queue.put(str(x))
//!
//! async def consumer(queue):
//!     while True:
//!         item = await queue.get()
//!         print('consuming {}...'.format(item))
//!         await asyncio.sleep(1)            # so does handling it
//!         queue.task_done()
//!
//! async def main():
//!     queue = asyncio.Queue()
//!     consumer_task = asyncio.create_task(consumer(queue))
//!     await producer(queue, 5)
//!     await queue.join()                    # every item handled
//!     consumer_task.cancel()
//!
//! asyncio.run(main())
//! ```
//!
//! It prints `producing 1/5` … `producing 5/5` and `consuming 1...` …
//! `consuming 5...`, interleaved: item `x` is consumed after it was
//! produced, and the items are consumed in the order they were produced
//! (a `Queue` is first in, first out).
//!
//! Differences from the Python: a second is 100 ms here. The queue is an
//! [`aiolos::sync::Queue`], shared through an `Arc` because the producer
//! and the consumer may run on different worker threads; `Queue::new(0)` is
//! `asyncio.Queue()` (no size limit). The producer and the consumer run in
//! parallel, so `producing x+1/5` and `consuming x...` can come in either
//! order, as with asyncio's equal sleeps.
//!
//! Run it with `cargo run --example producer_consumer`.

use std::sync::Arc;
use std::time::Duration;

use aiolos::sync::Queue;
use aiolos::time::sleep;

/// One second of the Python's sleeps.
const SECOND: Duration = Duration::from_millis(100);

/// Makes `n` items, one "second" each, and puts them on the queue.
async fn producer(queue: &Queue<String>, n: u32) {
    for x in 1..=n {
        println!("producing {x}/{n}");
        sleep(SECOND).await; // making it takes a while
        queue
            .put(x.to_string())
            .await
            .expect("nobody shuts the queue down");
    }
}

/// Takes items off the queue and handles them, forever.
async fn consumer(queue: Arc<Queue<String>>) {
    while let Ok(item) = queue.get().await {
        println!("consuming {item}...");
        sleep(SECOND).await; // so does handling it
        queue.task_done();
    }
}

#[aiolos::main]
async fn main() {
    let queue = Arc::new(Queue::new(0));
    let consumer_task = aiolos::spawn(consumer(queue.clone()));
    producer(&queue, 5).await;
    // Wait until the consumer called task_done() for every item.
    queue.join().await;
    // The consumer waits for an item that will never come: cancel it.
    consumer_task.cancel();
    let ended = consumer_task.await;
    assert!(ended.is_err_and(|e| e.is_cancelled()));
}
