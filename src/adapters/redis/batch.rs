//! Many clients' script calls to one Redis server, sent in one write.
//!
//! Sent one by one, each call costs a write and a wake-up at both ends: about a third of the
//! tracker's CPU for an announce. Calls queue here instead; the sending task waits until
//! every task that was ready has queued its own (one yield to the scheduler), then sends
//! them all as one pipeline, and Redis reads them in one read and answers in one write. Each
//! call still gets its own answer, errors included.

use redis::aio::ConnectionManager;
use redis::{Cmd, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

/// The most calls one write carries; the rest go in the next.
const MOST_PER_WRITE: usize = 128;

type Call = (Cmd, oneshot::Sender<RedisResult<Value>>);

#[derive(Clone)]
pub struct Batcher {
    calls: mpsc::UnboundedSender<Call>,
}

impl Batcher {
    /// Starts the sending task, which ends when the last `Batcher` is dropped.
    pub fn start(connection: ConnectionManager) -> Self {
        let (calls, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_in_batches(connection, queue));
        Self { calls }
    }

    pub async fn query(&self, command: Cmd) -> RedisResult<Value> {
        let (answer, answered) = oneshot::channel();
        self.calls.send((command, answer)).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn send_in_batches(connection: ConnectionManager, mut queue: mpsc::UnboundedReceiver<Call>) {
    let mut batch = Vec::with_capacity(MOST_PER_WRITE);
    while queue.recv_many(&mut batch, MOST_PER_WRITE).await > 0 {
        // Tokio runs a task woken by a send right after the sender yields, so without this
        // every call would go alone. A yielded task runs once the ready ones have.
        tokio::task::yield_now().await;
        while batch.len() < MOST_PER_WRITE {
            match queue.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        let calls = std::mem::replace(&mut batch, Vec::with_capacity(MOST_PER_WRITE));
        // Answers come back in order on the one connection, so the next batch need not
        // wait for this one.
        tokio::spawn(send(connection.clone(), calls));
    }
}

async fn send(mut connection: ConnectionManager, calls: Vec<Call>) {
    let mut pipeline = redis::pipe();
    pipeline.ignore_errors();
    let mut answers = Vec::with_capacity(calls.len());
    for (command, answer) in calls {
        pipeline.add_command(command);
        answers.push(answer);
    }
    // A caller that stopped waiting (its timeout) has dropped its receiver: nothing to do.
    match pipeline.query_async::<Vec<RedisResult<Value>>>(&mut connection).await {
        Ok(replies) => {
            for (answer, reply) in answers.into_iter().zip(replies) {
                let _ = answer.send(reply);
            }
        }
        Err(error) => {
            for answer in answers {
                let _ = answer.send(Err(error.clone()));
            }
        }
    }
}

fn gone() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
}
