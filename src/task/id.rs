//! Task ids as numbers, for maps and reports.

use std::hash::Hasher;

use tokio::task::Id;

/// The number inside an id (tokio keeps it private, but hashes it).
pub(crate) fn id_u64(id: Id) -> u64 {
    struct Raw(u64);
    impl Hasher for Raw {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, _: &[u8]) {}
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
    }
    let mut raw = Raw(0);
    std::hash::Hash::hash(&id, &mut raw);
    raw.0
}
