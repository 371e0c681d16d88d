//! The table of live tasks: 64 locked shards, each a small ring of places
//! indexed by id, with a map for what collides and for ids that ended
//! before their spawn hook ran.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::Mutex;
use tokio::task::Id;

use super::record::{Own, Slot};

#[derive(Default)]
pub(super) struct Shard {
    /// Live tasks, direct-mapped by id: ids are handed out in order, so
    /// tasks alive at once rarely share a place, and a spawn or an end
    /// touches one entry, without the map's control bytes.
    ring: [Option<(Id, Slot)>; RING],
    /// Live tasks whose place in `ring` was taken, and ended ones.
    map: HashMap<Id, Slot, BuildHasherDefault<IdHasher>>,
    /// Oldest first; bounded, since blocking tasks end without a spawn hook.
    ended: VecDeque<Id>,
}

pub(super) const SHARDS: usize = 64;
/// Places in each shard's ring: 64 shards of 16 hold 1024 tasks.
pub(super) const RING: usize = 16;

// A block of activity slots holds the ids of one shard only (its claims
// are made under that shard's lock, see `capture::slots`): runs of `RING`
// ids per shard, blocks of as many slots, and a table that wraps at a
// multiple of every shard's runs.
const _: () = assert!(
    RING == crate::capture::slots::BLOCK
        && crate::capture::slots::SLOTS.is_multiple_of(RING * SHARDS)
);
const MAX_ENDED: usize = 32;

impl Shard {
    fn place(id: Id) -> usize {
        (id_u64(id) % RING as u64) as usize
    }

    /// Records a live task. Gives the record back when the id ended
    /// already (terminate ran first: the marker is dropped too) or is
    /// recorded already (a wrapper on a runtime whose hooks also fired).
    pub(super) fn insert(&mut self, id: Id, own: Own) -> Result<(), Own> {
        if !self.map.is_empty() {
            match self.map.get(&id) {
                Some(Slot::Ended) => {
                    self.map.remove(&id);
                    return Err(own);
                }
                Some(_) => return Err(own),
                None => {}
            }
        }
        match &mut self.ring[Self::place(id)] {
            Some((held, _)) if *held == id => Err(own),
            Some(_) => {
                self.map.insert(id, Slot::Own(own));
                Ok(())
            }
            free @ None => {
                *free = Some((id, Slot::Own(own)));
                Ok(())
            }
        }
    }

    /// Takes an ended task's slot out; `None` when it was not recorded
    /// (its spawn hook has not run, or never will: blocking tasks), in
    /// which case a few such ids are remembered, so that a late spawn
    /// hook is not recorded as a task that never ends.
    pub(super) fn end(&mut self, id: Id) -> Option<Slot> {
        let Some(slot) = self.remove(id) else {
            self.map.insert(id, Slot::Ended);
            self.ended.push_back(id);
            if self.ended.len() > MAX_ENDED {
                let old = self.ended.pop_front().expect("non-empty");
                if let Some(Slot::Ended) = self.map.get(&old) {
                    self.map.remove(&old);
                }
            }
            return None;
        };
        // A map that once held a burst (10^5 tasks) keeps its capacity, and
        // a sparse table misses the cache on every spawn after.
        let (len, cap) = (self.map.len(), self.map.capacity());
        if cap > 1024 && len * 16 < cap {
            self.map.shrink_to(len * 4);
        }
        Some(slot)
    }

    /// Takes a live task's slot out (`None`: not recorded, or ended).
    fn remove(&mut self, id: Id) -> Option<Slot> {
        let place = &mut self.ring[Self::place(id)];
        if place.as_ref().is_some_and(|(held, _)| *held == id) {
            return place.take().map(|(_, slot)| slot);
        }
        if self.map.is_empty() {
            return None;
        }
        self.map.remove(&id)
    }

    pub(super) fn get_mut(&mut self, id: Id) -> Option<&mut Slot> {
        match &mut self.ring[Self::place(id)] {
            Some((held, slot)) if *held == id => Some(slot),
            _ => self.map.get_mut(&id),
        }
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (Id, &mut Slot)> {
        let ring = self.ring.iter_mut().flatten().map(|(id, s)| (*id, s));
        ring.chain(self.map.iter_mut().map(|(id, s)| (*id, s)))
    }
}

#[repr(align(128))] // one shard per cache line pair: no false sharing
pub(super) struct Padded(pub(super) Mutex<Shard>);

pub(super) static REGISTRY: [Padded; SHARDS] = [const {
    Padded(Mutex::new(Shard {
        ring: [const { None }; RING],
        map: HashMap::with_hasher(BuildHasherDefault::new()),
        ended: VecDeque::new(),
    }))
}; SHARDS];

/// Ids are sequential; spread them with a multiplicative mix.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) use crate::task::id_u64;

/// Runs of [`RING`] consecutive ids share a shard: a batch of spawns (and
/// of ends) keeps one lock and one run of places in cache. Workers
/// spawning at once then meet in a shard more often; with 2 workers that
/// measured no slower than spreading every id.
pub(super) fn shard(id: Id) -> &'static Mutex<Shard> {
    &REGISTRY[(id_u64(id) / RING as u64) as usize % SHARDS].0
}
