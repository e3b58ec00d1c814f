//! Cancelling a whole `gather` group at once. (The seed's other cancelling
//! example, Ctrl-C cancelling every task, is `cancel_on_ctrl_c`.)
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//!
//! **`001 #9`**, third form (same seed; the first two are in the
//! `gather_and_wait` example): a gathered group can be cancelled as one.
//! The seed stops at the `cancel()`; this port then runs `group1`, which
//! goes on unharmed: two `start get url`, two `end get url`, nothing from
//! `group2`.
//!
//! ```python
//! group1 = asyncio.gather(*group1)
//! group2 = asyncio.gather(*group2)
//! group2.cancel()
//! ```
//!
//! `group1`'s sleeps are 200 ms instead of 2 s.
//!
//! Run it with `cargo run --example cancel`.

use std::time::Duration;

use aiolos::time::sleep;
use aiolos::{gather, Runtime};

/// `001 #9`'s `get_html`, with the seed's two seconds as 200 ms.
async fn get_url(_url: &str) {
    println!("start get url");
    sleep(Duration::from_millis(200)).await;
    println!("end get url");
}

fn main() -> std::io::Result<()> {
    let rt = Runtime::new()?;

    println!("=== 001 #9 (c) ===");
    let group1 = gather((0..2).map(|_| get_url("http://projectsedu.com")));
    let group2 = gather((0..2).map(|_| get_url("http://www.imooc.com")));
    // group2.cancel(): drops its unfinished coroutines (and would cancel
    // any unfinished spawned tasks among them).
    group2.cancel();
    rt.block_on(group1);

    // finally: loop.close()
    drop(rt);
    Ok(())
}
