//! The clock port: the only way the core learns the time.

use crate::domain::time::Timestamp;

#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}
