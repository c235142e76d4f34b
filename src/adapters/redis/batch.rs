//! Many clients' script calls to one Redis server, sent in one write.
//!
//! Sent one by one, each call costs a write and a wake-up at both ends, which is a good part
//! of the tracker's CPU for an announce. Calls queue here instead; the sending task waits until
//! every task that was ready has queued its own (one yield to the scheduler), then sends
//! them all as one pipeline, and Redis reads them in one read and answers in one write. Each
//! call still gets its own answer, errors included.

use std::time::Duration;

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
    /// Starts the sending task, which ends when the last `Batcher` is dropped. A batch not
    /// answered within `timeout` fails.
    pub fn start(connection: ConnectionManager, timeout: Duration) -> Self {
        let (calls, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_in_batches(connection, queue, timeout));
        Self { calls }
    }

    pub async fn query(&self, command: Cmd) -> RedisResult<Value> {
        let (answer, answered) = oneshot::channel();
        self.calls.send((command, answer)).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn send_in_batches(
    connection: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<Call>,
    timeout: Duration,
) {
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
        tokio::spawn(send(connection.clone(), calls, timeout));
    }
}

async fn send(mut connection: ConnectionManager, calls: Vec<Call>, timeout: Duration) {
    let mut pipeline = redis::pipe();
    pipeline.ignore_errors();
    let mut answers = Vec::with_capacity(calls.len());
    for (command, answer) in calls {
        pipeline.add_command(command);
        answers.push(answer);
    }
    // While Redis is away the connection waits for it to return, however long that is:
    // without a deadline, batches would pile up here through an outage.
    let query = pipeline.query_async::<Vec<RedisResult<Value>>>(&mut connection);
    let answered = tokio::time::timeout(timeout, query).await.unwrap_or_else(|_| {
        Err(RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))
    });
    // A caller that stopped waiting (its client went away) has dropped its receiver.
    match answered {
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

#[cfg(test)]
mod tests {
    use redis::aio::ConnectionManagerConfig;

    use super::*;

    /// A connection to a port nobody listens on, which retries for ever, as the tracker's.
    fn connection_to_nobody() -> ConnectionManager {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(50)))
            .set_number_of_retries(usize::MAX);
        ConnectionManager::new_lazy_with_config(client, config).unwrap()
    }

    #[tokio::test]
    async fn a_batch_redis_does_not_answer_fails_at_its_deadline_rather_than_waiting() {
        let batcher = Batcher::start(connection_to_nobody(), Duration::from_millis(200));
        let calls = (0..3).map(|_| batcher.query(redis::cmd("PING")));
        // Far past the deadline: only a batch left waiting for Redis gets here.
        let bound = Duration::from_secs(10);
        let answers = tokio::time::timeout(bound, futures_util::future::join_all(calls)).await;
        for answer in answers.expect("every call ends") {
            let error = answer.expect_err("nobody answered");
            assert_eq!(error.kind(), redis::ErrorKind::Io, "{error}");
            assert!(error.to_string().contains("timed out"), "{error}");
        }
    }
}
