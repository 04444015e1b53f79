//! openraft's own storage test suite against the segmented log and the state machine.

use openraft::testing::{StoreBuilder, Suite};
use xuncha_domain::NodeId;
use xuncha_replication::raft::log_store::{LogStore, log_dir};
use xuncha_replication::raft::state_machine::StateMachine;
use xuncha_replication::raft::types::{StorageError, TypeConfig, storage_error};
use xuncha_store::{Durability, Engine};

struct Stores;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Stores {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().map_err(storage_error)?;
        let engine = Engine::open(&dir.path().join("state.db"), &NodeId::city(), Durability::Normal)
            .await
            .map_err(storage_error)?;
        let log = LogStore::open(&log_dir(dir.path()), 1).await.map_err(storage_error)?;
        let sm = StateMachine::new(engine, dir.path().join("snapshots")).map_err(storage_error)?;
        Ok((dir, log, sm))
    }
}

#[test]
fn log_store_and_state_machine_pass_the_openraft_suite() {
    if let Err(e) = Suite::test_all(Stores) {
        panic!("the openraft storage suite failed: {e}");
    }
}
