//! The queue logic shared by `Queue`, `LifoQueue` and `PriorityQueue`.
//!
//! # Protocol
//!
//! Everything sits under one lock: the items (a [`Storage`]), three
//! [`WaiterList`]s (getters, putters, joiners) and the counters.
//!
//! 1. Items are never handed to a waiter directly; they stay in the storage.
//!    Granting a getter *reserves* one stored item for it (`get_reserved`),
//!    and granting a putter reserves one free slot (`put_reserved`). A
//!    granted getter pops when it next runs; a granted putter pushes.
//! 2. `get_nowait` and a new `get` take only unreserved items, and
//!    `put_nowait` and a new `put` only unreserved room, so nobody overtakes
//!    a waiter that was already served.
//! 3. After every change, `State::balance` restores the invariant: getters
//!    wait only while every stored item is reserved, and putters wait only
//!    while every slot is taken or reserved. It grants, oldest first, as many
//!    waiters as there are unreserved items and slots.
//! 4. Cancellation: a waiter dropped while queued unlinks itself. A getter
//!    dropped after its grant gives the reservation back and `balance` hands
//!    the item to the next getter; the item itself never left the storage, so
//!    it cannot be lost. Likewise for a granted putter's slot.
//! 5. `shutdown` refuses every queued putter and getter (getters queue only
//!    when no unreserved item is left). Granted getters still get their
//!    reserved items; `get` drains what is left and then fails.
//!    `shutdown_immediate` also empties the storage (dropping the items after
//!    the lock is released) and takes them off the unfinished count.
//! 6. `task_done` counts down what `put` counted up; at zero every joiner is
//!    granted.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::storage::Storage;
use crate::loom;
use crate::sync::error::{QueueEmpty, QueueFull, QueueShutDown};
use crate::sync::waiters::{Key, Status, WaiterList, WakeList};
use crate::task::poll_proceed;

/// A queue over storage `S` (see the module docs).
pub(crate) struct Core<S> {
    /// The largest number of items; 0 for no limit.
    maxsize: usize,
    /// Everything else, under one lock.
    state: loom::Mutex<State<S>>,
}

/// The locked part of a [`Core`].
struct State<S> {
    /// The items.
    items: S,
    /// Tasks waiting for an item.
    getters: WaiterList,
    /// Tasks waiting for room.
    putters: WaiterList,
    /// Tasks waiting for `unfinished` to reach zero.
    joiners: WaiterList,
    /// Stored items promised to granted getters that have not run yet.
    get_reserved: usize,
    /// Free slots promised to granted putters that have not run yet.
    put_reserved: usize,
    /// Items put and not yet marked done with `task_done`.
    unfinished: usize,
    /// Whether `shutdown` was called.
    shut_down: bool,
}

impl<S: Storage> State<S> {
    /// Whether an unreserved slot is free.
    fn has_room(&self, maxsize: usize) -> bool {
        maxsize == 0 || self.items.len() + self.put_reserved < maxsize
    }

    /// Whether an unreserved item is stored.
    fn has_item(&self) -> bool {
        self.items.len() > self.get_reserved
    }

    /// Grants waiters while unreserved items and slots remain.
    fn balance(&mut self, maxsize: usize, wakes: &mut WakeList) {
        while !self.getters.is_empty() && self.has_item() {
            wakes.push(self.getters.grant_front().expect("a getter is queued"));
            self.get_reserved += 1;
        }
        while !self.shut_down && !self.putters.is_empty() && self.has_room(maxsize) {
            wakes.push(self.putters.grant_front().expect("a putter is queued"));
            self.put_reserved += 1;
        }
    }

    /// Stores a new item and serves whoever it lets go on.
    fn insert(&mut self, item: S::Item, maxsize: usize, wakes: &mut WakeList) {
        self.items.push(item);
        self.unfinished += 1;
        self.balance(maxsize, wakes);
    }

    /// Takes the next item (the caller checked or reserved it) and serves
    /// whoever the freed slot lets go on.
    fn remove(&mut self, maxsize: usize, wakes: &mut WakeList) -> Option<S::Item> {
        let item = self.items.pop();
        self.balance(maxsize, wakes);
        item
    }
}

impl<S: Storage> Core<S> {
    /// An empty queue holding at most `maxsize` items (0: no limit).
    pub(crate) fn new(maxsize: usize) -> Core<S> {
        Core {
            maxsize,
            state: loom::Mutex::new(State {
                items: S::default(),
                getters: WaiterList::new(),
                putters: WaiterList::new(),
                joiners: WaiterList::new(),
                get_reserved: 0,
                put_reserved: 0,
                unfinished: 0,
                shut_down: false,
            }),
        }
    }

    /// The item limit (0: none).
    pub(crate) fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// How many items are stored.
    pub(crate) fn qsize(&self) -> usize {
        self.state.lock().items.len()
    }

    /// Whether a `put_nowait` would find no room.
    pub(crate) fn full(&self) -> bool {
        !self.state.lock().has_room(self.maxsize)
    }

    /// Whether `shutdown` was called.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.state.lock().shut_down
    }

    /// Puts `item` if there is room.
    pub(crate) fn put_nowait(&self, item: S::Item) -> Result<(), QueueFull<S::Item>> {
        let mut wakes = WakeList::new();
        {
            let mut state = self.state.lock();
            if state.shut_down {
                return Err(QueueFull::ShutDown(item));
            }
            if !state.has_room(self.maxsize) {
                return Err(QueueFull::Full(item));
            }
            state.insert(item, self.maxsize, &mut wakes);
        }
        wakes.wake_all();
        Ok(())
    }

    /// Takes an item if one is ready.
    pub(crate) fn get_nowait(&self) -> Result<S::Item, QueueEmpty> {
        let mut wakes = WakeList::new();
        let item = {
            let mut state = self.state.lock();
            if !state.has_item() {
                return Err(if state.shut_down {
                    QueueEmpty::ShutDown
                } else {
                    QueueEmpty::Empty
                });
            }
            state.remove(self.maxsize, &mut wakes)
        };
        wakes.wake_all();
        Ok(item.expect("an unreserved item is stored"))
    }

    /// The future of `put`.
    pub(crate) fn put(&self, item: S::Item) -> Put<'_, S> {
        Put {
            core: self,
            item: Some(item),
            key: None,
        }
    }

    /// The future of `get`.
    pub(crate) fn get(&self) -> Get<'_, S> {
        Get {
            core: self,
            key: None,
        }
    }

    /// The future of `join`.
    pub(crate) fn join(&self) -> Join<'_, S> {
        Join {
            core: self,
            key: None,
        }
    }

    /// Marks one item as processed.
    pub(crate) fn task_done(&self) {
        let mut wakes = WakeList::new();
        {
            let mut state = self.state.lock();
            if state.unfinished == 0 {
                drop(state);
                panic!(
                    "Queue::task_done() called more times than there were items put in the queue"
                );
            }
            state.unfinished -= 1;
            if state.unfinished == 0 {
                state.joiners.finish_all(Status::Granted, &mut wakes);
            }
        }
        wakes.wake_all();
    }

    /// Shuts the queue down; with `immediate`, also drops the stored items.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut wakes = WakeList::new();
        let drained = {
            let mut state = self.state.lock();
            state.shut_down = true;
            let drained = if immediate {
                let drained = std::mem::take(&mut state.items);
                state.unfinished = state.unfinished.saturating_sub(drained.len());
                if state.unfinished == 0 {
                    state.joiners.finish_all(Status::Granted, &mut wakes);
                }
                Some(drained)
            } else {
                None
            };
            state.putters.finish_all(Status::Refused, &mut wakes);
            // Getters queue only while no unreserved item is stored.
            state.getters.finish_all(Status::Refused, &mut wakes);
            drained
        };
        wakes.wake_all();
        // The items' destructors run without the lock.
        drop(drained);
    }
}

impl<S: Storage> Core<S> {
    /// Formats the queue's counters under the type name `name`.
    pub(crate) fn fmt_named(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct(name)
            .field("qsize", &state.items.len())
            .field("maxsize", &self.maxsize)
            .field("unfinished", &state.unfinished)
            .field("getters", &state.getters.len())
            .field("putters", &state.putters.len())
            .field("get_reserved", &state.get_reserved)
            .field("put_reserved", &state.put_reserved)
            .field("shut_down", &state.shut_down)
            .finish()
    }
}

/// The future of `put`.
pub(crate) struct Put<'a, S: Storage> {
    /// The queue.
    core: &'a Core<S>,
    /// The item, until it is put or given back.
    item: Option<S::Item>,
    /// Our node in the putter list, while queued or granted.
    key: Option<Key>,
}

// The item is never pinned: it is only moved in and out through `&mut`.
impl<S: Storage> Unpin for Put<'_, S> {}

impl<S: Storage> Future for Put<'_, S> {
    type Output = Result<(), QueueShutDown<S::Item>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Spend budget before taking anything, so a yield here loses nothing.
        ready!(poll_proceed(cx));
        let this = self.get_mut();
        let core = this.core;
        let mut wakes = WakeList::new();
        let put = {
            let mut state = core.state.lock();
            let may_put = match &this.key {
                Some(key) => {
                    let status = state.putters.status(key, cx.waker());
                    if status == Status::Waiting {
                        return Poll::Pending;
                    }
                    state
                        .putters
                        .remove(this.key.take().expect("checked above"));
                    if status == Status::Granted {
                        state.put_reserved -= 1;
                    }
                    // Shut down since the grant: refuse like the others.
                    status == Status::Granted && !state.shut_down
                }
                None if state.shut_down => false,
                None if state.has_room(core.maxsize) => true,
                None => {
                    this.key = Some(state.putters.push(cx.waker(), 1));
                    return Poll::Pending;
                }
            };
            if may_put {
                let item = this.item.take().expect("Put polled after it completed");
                state.insert(item, core.maxsize, &mut wakes);
            }
            may_put
        };
        wakes.wake_all();
        Poll::Ready(if put {
            Ok(())
        } else {
            Err(QueueShutDown(
                this.item.take().expect("Put polled after it completed"),
            ))
        })
    }
}

impl<S: Storage> Drop for Put<'_, S> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::new();
        {
            let mut state = self.core.state.lock();
            if state.putters.remove(key) == Status::Granted {
                // A slot was kept for us: pass it on.
                state.put_reserved -= 1;
                state.balance(self.core.maxsize, &mut wakes);
            }
        }
        wakes.wake_all();
    }
}

/// The future of `get`.
pub(crate) struct Get<'a, S: Storage> {
    /// The queue.
    core: &'a Core<S>,
    /// Our node in the getter list, while queued or granted.
    key: Option<Key>,
}

impl<S: Storage> Future for Get<'_, S> {
    type Output = Result<S::Item, QueueShutDown>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Spend budget before taking anything, so a yield here loses nothing.
        ready!(poll_proceed(cx));
        let core = self.core;
        let mut wakes = WakeList::new();
        let item = {
            let mut state = core.state.lock();
            match &self.key {
                Some(key) => {
                    let status = state.getters.status(key, cx.waker());
                    if status == Status::Waiting {
                        return Poll::Pending;
                    }
                    state
                        .getters
                        .remove(self.key.take().expect("checked above"));
                    if status == Status::Granted {
                        state.get_reserved -= 1;
                        // None only if `shutdown_immediate` emptied the storage.
                        state.remove(core.maxsize, &mut wakes)
                    } else {
                        None
                    }
                }
                None if state.has_item() => state.remove(core.maxsize, &mut wakes),
                None if state.shut_down => None,
                None => {
                    self.key = Some(state.getters.push(cx.waker(), 1));
                    return Poll::Pending;
                }
            }
        };
        wakes.wake_all();
        Poll::Ready(item.ok_or(QueueShutDown(())))
    }
}

impl<S: Storage> Drop for Get<'_, S> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::new();
        {
            let mut state = self.core.state.lock();
            if state.getters.remove(key) == Status::Granted {
                // An item was kept for us: let the next getter have it.
                state.get_reserved -= 1;
                state.balance(self.core.maxsize, &mut wakes);
            }
        }
        wakes.wake_all();
    }
}

/// The future of `join`.
pub(crate) struct Join<'a, S: Storage> {
    /// The queue.
    core: &'a Core<S>,
    /// Our node in the joiner list, while queued or granted.
    key: Option<Key>,
}

impl<S: Storage> Future for Join<'_, S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(poll_proceed(cx));
        let mut state = self.core.state.lock();
        match &self.key {
            Some(key) => {
                if state.joiners.status(key, cx.waker()) == Status::Waiting {
                    return Poll::Pending;
                }
                state
                    .joiners
                    .remove(self.key.take().expect("checked above"));
                Poll::Ready(())
            }
            None if state.unfinished == 0 => Poll::Ready(()),
            None => {
                let key = state.joiners.push(cx.waker(), 1);
                drop(state);
                self.key = Some(key);
                Poll::Pending
            }
        }
    }
}

impl<S: Storage> Drop for Join<'_, S> {
    fn drop(&mut self) {
        // Joiners are released all at once: nothing to pass on.
        if let Some(key) = self.key.take() {
            self.core.state.lock().joiners.remove(key);
        }
    }
}
