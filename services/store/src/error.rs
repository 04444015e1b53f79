use xuncha_domain::DomainError;

/// Failures of the store. `Domain` is a rule the stored data broke (a remote change that its
/// sender may not make); the rest are I/O or corruption.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("this database belongs to node {found}, not {expected}")]
    WrongNode { expected: String, found: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
