//! A linearizability checker (Wing & Gong's search with Lowe's memoisation, as Porcupine does)
//! for histories recorded from real clients: each operation's call and return times as the
//! client saw them, and its result. A history is linearizable when some order of its
//! operations, each placed between its call and its return, is a legal sequential run of the
//! model. Linearizability is local (Herlihy & Wing), so a history over many records is checked
//! record by record.
//!
//! An operation whose outcome the client never learned (a timeout, a lost connection) returns
//! "at infinity": it may take effect at any point after its call, or not at all.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash;
    type Op;
    fn init(&self) -> Self::State;
    /// The state after `op`, if `op` (with the result it recorded) is legal in `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
}

/// One client operation on one record.
#[derive(Clone, Debug)]
pub struct Operation<Op> {
    pub call: u64,
    /// `None`: the client never learned the outcome.
    pub ret: Option<u64>,
    pub op: Op,
}

/// A register per record: writes set it, reads return what it holds (`None` before any write).
pub struct Register;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Write(u64),
    Read(Option<u64>),
}

impl Model for Register {
    type State = Option<u64>;
    type Op = RegisterOp;
    fn init(&self) -> Option<u64> {
        None
    }
    fn step(&self, state: &Option<u64>, op: &RegisterOp) -> Option<Option<u64>> {
        match op {
            RegisterOp::Write(v) => Some(Some(*v)),
            RegisterOp::Read(seen) => (seen == state).then_some(*state),
        }
    }
}

/// Whether `history` is linearizable with respect to `model`. A read whose result the client
/// never learned constrains nothing: the caller leaves it out of the history.
pub fn linearizable<M: Model>(model: &M, history: &[Operation<M::Op>]) -> bool {
    let n = history.len();
    if n == 0 {
        return true;
    }
    // Entries: a call and a return per operation, by time; at equal times calls come first, so
    // operations that touch are taken as concurrent (the weaker, never wrongly failing, reading).
    #[derive(Clone, Copy)]
    struct Entry {
        time: u64,
        is_return: bool,
        op: usize,
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(2 * n);
    for (i, o) in history.iter().enumerate() {
        entries.push(Entry { time: o.call, is_return: false, op: i });
        entries.push(Entry { time: o.ret.unwrap_or(u64::MAX), is_return: true, op: i });
    }
    entries.sort_by_key(|e| (e.time, e.is_return, e.op));
    // A doubly linked list over the entries with a head sentinel at index `len`.
    let len = entries.len();
    let head = len;
    let mut next: Vec<usize> = (1..=len).collect();
    next[len - 1] = usize::MAX;
    next.push(0); // the head's
    let mut prev: Vec<usize> = (0..len).map(|i| if i == 0 { head } else { i - 1 }).collect();
    prev.push(usize::MAX);
    let mut call_at = vec![0; n];
    let mut return_at = vec![0; n];
    for (i, e) in entries.iter().enumerate() {
        if e.is_return {
            return_at[e.op] = i;
        } else {
            call_at[e.op] = i;
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, i: usize| {
        let (p, q) = (prev[i], next[i]);
        next[p] = q;
        if q != usize::MAX {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, i: usize| {
        let (p, q) = (prev[i], next[i]);
        next[p] = i;
        if q != usize::MAX {
            prev[q] = i;
        }
    };

    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    // What was linearized, newest last: the operation and the state before it.
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut at = next[head];
    loop {
        if at == usize::MAX || next[head] == usize::MAX {
            return true;
        }
        let e = entries[at];
        if e.is_return {
            // Every operation still listed has not returned: those that never will may stay out.
            if history[e.op].ret.is_none() {
                return true;
            }
            // An operation returned before any order could place it: undo the last choice.
            let Some((op, before)) = stack.pop() else {
                return false;
            };
            linearized[op / 64] &= !(1 << (op % 64));
            state = before;
            relink(&mut next, &mut prev, return_at[op]);
            relink(&mut next, &mut prev, call_at[op]);
            at = next[call_at[op]];
            continue;
        }
        let op = e.op;
        if let Some(after) = model.step(&state, &history[op].op) {
            let mut with = linearized.clone();
            with[op / 64] |= 1 << (op % 64);
            if seen.insert((with.clone(), after.clone())) {
                stack.push((op, state));
                state = after;
                linearized = with;
                unlink(&mut next, &mut prev, call_at[op]);
                unlink(&mut next, &mut prev, return_at[op]);
                at = next[head];
                continue;
            }
        }
        at = next[at];
    }
}

/// Checks a history over many records, record by record; the records whose history is not
/// linearizable.
pub fn check_per_record<K: Ord + Clone, M: Model>(model: &M, history: &[(K, Operation<M::Op>)]) -> Vec<K>
where
    M::Op: Clone,
{
    let mut by_record: BTreeMap<K, Vec<Operation<M::Op>>> = BTreeMap::new();
    for (k, o) in history {
        by_record.entry(k.clone()).or_default().push(o.clone());
    }
    by_record.into_iter().filter(|(_, h)| !linearizable(model, h)).map(|(k, _)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::RegisterOp::{Read, Write};
    use super::*;
    use proptest::prelude::*;

    fn op(call: u64, ret: u64, op: RegisterOp) -> Operation<RegisterOp> {
        Operation { call, ret: Some(ret), op }
    }
    fn pending(call: u64, op: RegisterOp) -> Operation<RegisterOp> {
        Operation { call, ret: None, op }
    }

    #[test]
    fn sequential_runs_are_linearizable_and_stale_reads_are_not() {
        assert!(linearizable(&Register, &[op(0, 1, Write(1)), op(2, 3, Read(Some(1)))]));
        assert!(!linearizable(&Register, &[op(0, 1, Write(1)), op(2, 3, Read(None))]), "a stale read");
        assert!(!linearizable(&Register, &[op(0, 1, Read(Some(7)))]), "a value never written");
        assert!(linearizable(&Register, &[]));
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order_but_not_go_back() {
        // A long write overlapped by two reads: old then new is fine...
        let w = op(0, 10, Write(1));
        assert!(linearizable(&Register, &[w.clone(), op(1, 2, Read(None)), op(3, 4, Read(Some(1)))]));
        // ...new then old is not: once a read saw the write, a later read cannot miss it.
        assert!(!linearizable(&Register, &[w.clone(), op(1, 2, Read(Some(1))), op(3, 4, Read(None))]));
        // Two overlapping writes and reads that saw them in an order both can agree on.
        let h = [op(0, 5, Write(1)), op(0, 5, Write(2)), op(6, 7, Read(Some(1))), op(8, 9, Read(Some(1)))];
        assert!(linearizable(&Register, &h));
        let h = [op(0, 5, Write(1)), op(0, 5, Write(2)), op(6, 7, Read(Some(1))), op(8, 9, Read(Some(2)))];
        assert!(!linearizable(&Register, &h), "no write after both returned");
    }

    #[test]
    fn an_operation_with_an_unknown_outcome_may_take_effect_late_or_never() {
        let lost = pending(0, Write(2));
        assert!(linearizable(&Register, &[lost.clone(), op(5, 6, Read(Some(2)))]), "took effect");
        assert!(linearizable(&Register, &[lost.clone(), op(5, 6, Read(None))]), "never took effect");
        assert!(linearizable(&Register, &[lost.clone(), op(5, 6, Read(None)), op(7, 8, Read(Some(2)))]), "late");
        assert!(!linearizable(&Register, &[lost, op(5, 6, Read(Some(2))), op(7, 8, Read(None))]), "then undone");
    }

    #[test]
    fn records_are_checked_one_by_one() {
        let h = [
            ("甲", op(0, 1, Write(1))),
            ("乙", op(0, 1, Write(5))),
            ("甲", op(2, 3, Read(Some(1)))),
            ("乙", op(2, 3, Read(Some(1)))),
        ];
        assert_eq!(check_per_record(&Register, &h), vec!["乙"]);
    }

    /// Histories made by running operations one after another at random instants inside
    /// random intervals: always linearizable; the same with one read's result changed to a
    /// value never written: never.
    fn recorded(steps: &[(bool, u64, u64, u64)]) -> Vec<Operation<RegisterOp>> {
        let mut value = None;
        steps
            .iter()
            .enumerate()
            .map(|(i, &(is_write, v, before, after))| {
                // The i-th operation takes effect at instant 300·(i+1), inside [call, ret]; neighbours overlap.
                let at = 300 * (i as u64 + 1);
                let op = if is_write {
                    value = Some(v);
                    Write(v)
                } else {
                    Read(value)
                };
                Operation { call: at - before, ret: Some(at + after), op }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        #[test]
        fn recorded_runs_pass_and_a_forged_read_fails(
            steps in proptest::collection::vec((any::<bool>(), 0u64..4, 0u64..250, 0u64..250), 1..24),
            forged in any::<prop::sample::Index>(),
        ) {
            let mut history = recorded(&steps);
            prop_assert!(linearizable(&Register, &history));
            let reads: Vec<usize> =
                (0..history.len()).filter(|i| matches!(history[*i].op, Read(_))).collect();
            if !reads.is_empty() {
                history[reads[forged.index(reads.len())]].op = Read(Some(99));
                prop_assert!(!linearizable(&Register, &history));
            }
        }
    }
}
