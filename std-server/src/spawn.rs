//! [`Spawn`]: how a [`Server`](crate::Server) starts a task for each connection on the
//! caller's executor. The library never creates an executor or its threads; it runs on
//! yours.

use smol::{Executor, LocalExecutor};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// An executor a [`Server`](crate::Server) can start connection tasks on.
///
/// Implemented for smol's executors ([`smol::Executor`] and [`smol::LocalExecutor`], by
/// reference, `Arc` or `Rc`) and for smol's global executor ([`GlobalExecutor`]). Implement
/// it for another executor by spawning the task there, detached; the tasks use async-io's
/// reactor, which runs on any executor.
///
/// ```
/// use chatecho_server::Spawn;
///
/// let executor = smol::Executor::new();
/// let (done, finished) = async_channel::bounded(1);
/// executor.spawn_task(async move { done.send(7).await.unwrap() });
/// assert_eq!(smol::block_on(executor.run(finished.recv())), Ok(7));
/// ```
pub trait Spawn {
    /// Starts `task`, detached: it runs to completion without being awaited.
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

impl Spawn for Executor<'_> {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(task).detach();
    }
}

impl Spawn for LocalExecutor<'_> {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.spawn(task).detach();
    }
}

impl<T: Spawn + ?Sized> Spawn for &T {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (**self).spawn_task(task);
    }
}

impl<T: Spawn + ?Sized> Spawn for Arc<T> {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (**self).spawn_task(task);
    }
}

impl<T: Spawn + ?Sized> Spawn for Rc<T> {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (**self).spawn_task(task);
    }
}

/// smol's global executor ([`smol::spawn`]), which smol runs on threads of its own
/// (`SMOL_THREADS`, one unless set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GlobalExecutor;

impl Spawn for GlobalExecutor {
    fn spawn_task<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol::spawn(task).detach();
    }
}
