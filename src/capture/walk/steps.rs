//! The steps of a thread's last walk, replayed while the stack words they
//! read are unchanged.
//!
//! Spawns from the same code (a loop spawning a batch, an accept loop, a
//! pool) walk the same frames: the same return addresses at the same stack
//! addresses. One step of the walk is a function of the frame's address,
//! the registers it starts from, the stack words it reads and the module
//! list, and of nothing else. So a step recorded with the words it read
//! (address and value) has the same outcome whenever those words read the
//! same again. Once a walk reaches a state the last walk passed through,
//! the last walk's steps from there are replayed in a run, each checked
//! by re-reading its one or two words, instead of finding and applying
//! each frame's unwind rule; the first step whose words differ ends the
//! run, and the walk goes on from there (a frame whose saved registers
//! changed, say), replaying again where the two walks meet. Nothing is
//! taken on trust: a step replays only from the exact state it was
//! recorded in, and only after each word it read reads the same through
//! the walk's own bounds-checked read, so a trail another thread left (the
//! walkers' pool) is checked against this thread's stack like its own.
//!
//! The registers: framehop's x86_64 walk tracks ip, sp and bp; the others
//! start at zero and only a rule that pops registers sets them. Steps are
//! recorded and replayed only while all others are zero, so (ip, sp, bp)
//! is the whole state.

/// Stack words a recorded step may have read (an unwind rule reads the
/// return address, and maybe the saved bp).
const MAX_READS: usize = 2;

/// Where a step starts: its frame's address, and the registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct State {
    pub(super) ip: u64,
    /// The walk's first frame (an instruction pointer, not a return
    /// address: its rule is looked up at `ip`, not `ip - 1`).
    pub(super) first: bool,
    pub(super) sp: u64,
    pub(super) bp: u64,
}

/// Where a step leads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Then {
    /// The caller's frame, in this state.
    At(State),
    /// Nowhere: the walk ends (the end of the stack, or a rule that failed).
    End,
}

/// A replayed run of steps.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Run {
    /// Return addresses it filled in.
    pub(super) ips: usize,
    /// Where its last step led.
    pub(super) then: Then,
}

/// A walk's reads of stack words: `Err` where the walk may not read.
///
/// (A trait rather than a closure: the walk's own reader is inlined into
/// the replay loop even in an unoptimised build, where a closure is a call
/// a word; `cargo test` builds taskleak unoptimised.)
pub(super) trait ReadStack {
    fn read(&mut self, addr: u64) -> Result<u64, ()>;
}

impl<F: FnMut(u64) -> Result<u64, ()>> ReadStack for F {
    #[inline(always)]
    fn read(&mut self, addr: u64) -> Result<u64, ()> {
        self(addr)
    }
}

/// One step of a walk.
#[derive(Clone, Copy)]
struct Step {
    from: State,
    then: Then,
    /// The words read (address, value) ...
    reads: [(u64, u64); MAX_READS],
    /// ... or refused (outside the stack), one bit a read.
    refused: u8,
    n_reads: u8,
}

impl Step {
    /// Whether each of this step's words reads as it did.
    ///
    /// (Plain loops and compares here and in [`Trail::replay`]: `cargo
    /// test` builds taskleak unoptimised, where iterator adapters and
    /// derived `==` are calls, and this runs for every frame of a spawn.)
    #[inline(always)]
    fn reads_again(&self, read: &mut impl ReadStack) -> bool {
        let mut i = 0;
        while i < usize::from(self.n_reads) {
            let (addr, value) = self.reads[i];
            let refused = self.refused & (1 << i) != 0;
            match read.read(addr) {
                Ok(word) if !refused && word == value => {}
                Err(()) if refused => {}
                _ => return false,
            }
            i += 1;
        }
        true
    }
}

/// The reads of the step being walked.
#[derive(Default)]
pub(super) struct Reads {
    reads: [(u64, Option<u64>); MAX_READS],
    n: usize,
    /// More than [`MAX_READS`]: the step is not recorded.
    overflow: bool,
}

impl Reads {
    pub(super) fn clear(&mut self) {
        self.n = 0;
        self.overflow = false;
    }

    pub(super) fn push(&mut self, addr: u64, value: Option<u64>) {
        match self.reads.get_mut(self.n) {
            Some(slot) => {
                *slot = (addr, value);
                self.n += 1;
            }
            None => self.overflow = true,
        }
    }
}

#[cfg(test)]
thread_local! {
    static REPLAYED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Steps replayed on this thread so far.
#[cfg(test)]
pub(super) fn replayed() -> usize {
    REPLAYED.get()
}

/// The last walk's steps, in order, overwritten by the walk being made.
pub(super) struct Trail {
    steps: Vec<Step>,
    /// How far into the last walk's steps this walk has looked.
    at: usize,
    /// Steps of this walk so far.
    len: usize,
    /// This walk no longer lines up with the last one (it is deeper or
    /// shallower): the last walk's steps ahead of it may still be
    /// replayed, so its own go to `spare` instead of over them.
    apart: bool,
    spare: Vec<Step>,
}

impl Trail {
    pub(super) fn new() -> Self {
        Trail {
            // Grown by the walks: a thread that walks once or twice does
            // not touch 20 KiB of fresh memory for it.
            steps: Vec::new(),
            at: 0,
            len: 0,
            apart: false,
            spare: Vec::new(),
        }
    }

    /// Starts a walk.
    pub(super) fn start(&mut self) {
        self.at = 0;
        self.len = 0;
        self.apart = false;
    }

    /// Ends a walk: its steps are the ones the next walk can replay.
    pub(super) fn finish(&mut self) {
        if self.apart {
            std::mem::swap(&mut self.steps, &mut self.spare);
        } else {
            self.steps.truncate(self.len);
        }
    }

    /// From here on, this walk's steps go apart from the last walk's.
    fn go_apart(&mut self) {
        self.apart = true;
        self.spare.clear();
        // Written in place so far: the first `len` steps are this walk's.
        self.spare.extend_from_slice(&self.steps[..self.len]);
    }

    /// Replays the last walk's steps from `from` on, while each starts
    /// where the one before led and reads the same words through `read`
    /// (the walk's own bounds-checked read), filling `ips` with their
    /// return addresses. `None`: the last walk never passed through
    /// `from`, or its step from there read something else this time.
    #[inline]
    pub(super) fn replay(
        &mut self,
        from: State,
        read: &mut impl ReadStack,
        ips: &mut [usize],
    ) -> Option<Run> {
        // A slice, not the Vec: in an unoptimised build, indexing a Vec is
        // a call a step.
        let steps: &[Step] = &self.steps;
        // A walk goes up the stack: both walks' sps only grow.
        let mut at = self.at;
        while at < steps.len() && steps[at].from.sp < from.sp {
            at += 1;
        }
        self.at = at;
        let start = at;
        let (mut state, mut n, mut ended) = (from, 0, false);
        while at < steps.len() {
            let step = &steps[at];
            let f = &step.from;
            let same = f.sp == state.sp && f.ip == state.ip && f.bp == state.bp;
            if !same || f.first != state.first || !step.reads_again(read) {
                break;
            }
            match step.then {
                Then::At(to) => {
                    if n == ips.len() {
                        break;
                    }
                    ips[n] = to.ip as usize;
                    n += 1;
                    state = to;
                    at += 1;
                }
                Then::End => {
                    ended = true;
                    at += 1;
                    break;
                }
            }
        }
        let run = Run {
            ips: n,
            then: if ended { Then::End } else { Then::At(state) },
        };
        if at == start {
            return None;
        }
        #[cfg(test)]
        REPLAYED.set(REPLAYED.get() + (at - start));
        self.at = at;
        if !self.apart && start != self.len {
            self.go_apart();
        }
        if self.apart {
            self.spare.extend_from_slice(&self.steps[start..at]);
        }
        // (Lined up, the replayed steps are already where they belong.)
        self.len += at - start;
        Some(run)
    }

    /// Records a step walked from `from` with `reads`.
    pub(super) fn record(&mut self, from: State, reads: &Reads, then: Then) {
        if reads.overflow {
            return;
        }
        let mut step = Step {
            from,
            then,
            reads: [(0, 0); MAX_READS],
            refused: 0,
            n_reads: reads.n as u8,
        };
        for (i, &(addr, value)) in reads.reads[..reads.n].iter().enumerate() {
            step.reads[i] = (addr, value.unwrap_or(0));
            step.refused |= u8::from(value.is_none()) << i;
        }
        if !self.apart {
            match self.steps.get_mut(self.len) {
                None => self.steps.push(step),
                // The last walk's step here is behind this walk: done with.
                Some(old) if old.from.sp <= from.sp => *old = step,
                // Still ahead of this walk, which is deeper here.
                Some(_) => {
                    self.go_apart();
                    self.spare.push(step);
                }
            }
        } else {
            self.spare.push(step);
        }
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(ip: u64, sp: u64) -> State {
        State {
            ip,
            first: false,
            sp,
            bp: 0,
        }
    }

    /// A run of `ips` steps that led to (`ip`, `sp`).
    fn ran(ips: usize, ip: u64, sp: u64) -> Option<Run> {
        Some(Run {
            ips,
            then: Then::At(state(ip, sp)),
        })
    }

    /// Reads of these words (address, value or refusal).
    fn reads(words: &[(u64, Option<u64>)]) -> Reads {
        let mut reads = Reads::default();
        for &(addr, value) in words {
            reads.push(addr, value);
        }
        reads
    }

    /// A trail whose last walk made these steps, ready for the next walk.
    fn recorded(steps: &[(State, Reads, Then)]) -> Trail {
        let mut trail = Trail::new();
        trail.start();
        for (from, reads, then) in steps {
            trail.record(*from, reads, *then);
        }
        trail.finish();
        trail.start();
        trail
    }

    /// Records a walk of `frames` (ip, sp), each step reading its return
    /// address at the next frame's sp - 8.
    fn walked(frames: &[(u64, u64)]) -> Trail {
        let steps: Vec<_> = frames
            .windows(2)
            .map(|pair| {
                let (from, to) = (pair[0], pair[1]);
                let read = reads(&[(to.1 - 8, Some(to.0))]);
                (state(from.0, from.1), read, Then::At(state(to.0, to.1)))
            })
            .collect();
        recorded(&steps)
    }

    /// A stack holding each frame's return address below its sp.
    fn stack(frames: &[(u64, u64)]) -> impl FnMut(u64) -> Result<u64, ()> + '_ {
        |addr| {
            frames
                .iter()
                .find(|(_, sp)| sp - 8 == addr)
                .map(|(ip, _)| *ip)
                .ok_or(())
        }
    }

    const WALK: [(u64, u64); 4] = [(0x10, 0x100), (0x20, 0x180), (0x30, 0x200), (0x40, 0x280)];

    /// docs/how-it-works.md gives the trail's size from this.
    #[test]
    fn a_step_is_104_bytes() {
        assert_eq!(size_of::<Step>(), 104);
    }

    #[test]
    fn an_unchanged_stack_replays_the_whole_walk() {
        let mut trail = walked(&WALK);
        let mut ips = [0; 8];
        let run = trail.replay(state(0x10, 0x100), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(3, 0x40, 0x280));
        assert_eq!(ips[..3], [0x20, 0x30, 0x40]);
    }

    #[test]
    fn a_changed_word_ends_the_run_and_a_later_meeting_resumes_it() {
        let mut trail = walked(&WALK);
        // The frame at 0x200 was called from elsewhere this time.
        let other = [(0x10, 0x100), (0x20, 0x180), (0x31, 0x200), (0x40, 0x280)];
        let mut ips = [0; 8];
        let run = trail.replay(state(0x10, 0x100), &mut stack(&other), &mut ips);
        assert_eq!(run, ran(1, 0x20, 0x180));
        assert_eq!(
            trail.replay(state(0x20, 0x180), &mut stack(&other), &mut ips),
            None
        );
        // Walked past it, the walk meets the last one's frames again... but
        // from another state (ip 0x31), so nothing is replayed from there.
        assert_eq!(
            trail.replay(state(0x31, 0x200), &mut stack(&other), &mut ips),
            None
        );
    }

    #[test]
    fn a_deeper_walk_replays_where_it_meets_the_last_one() {
        let mut trail = walked(&WALK);
        let mut ips = [0; 8];
        // Starts below the last walk's first frame, meets it at 0x180.
        assert_eq!(
            trail.replay(state(0x5, 0x80), &mut stack(&WALK), &mut ips),
            None
        );
        let run = trail.replay(state(0x20, 0x180), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(2, 0x40, 0x280));
    }

    #[test]
    fn a_deeper_walk_keeps_the_steps_it_can_still_replay() {
        let mut trail = walked(&WALK);
        let mut ips = [0; 8];
        // One frame below the last walk's first, then its frames.
        let read = reads(&[(0x178, Some(0x20))]);
        trail.record(state(0x5, 0x80), &read, Then::At(state(0x20, 0x180)));
        let run = trail.replay(state(0x20, 0x180), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(2, 0x40, 0x280));
        trail.finish();
        trail.start();
        let mut deeper = WALK.to_vec();
        deeper[0] = (0x5, 0x80);
        let run = trail.replay(state(0x5, 0x80), &mut stack(&deeper), &mut ips);
        assert_eq!(run, ran(3, 0x40, 0x280), "the whole deeper walk");
    }

    #[test]
    fn a_shallower_walk_replays_and_is_replayed() {
        let mut trail = walked(&WALK);
        let mut ips = [0; 8];
        let run = trail.replay(state(0x20, 0x180), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(2, 0x40, 0x280));
        trail.finish();
        trail.start();
        let run = trail.replay(state(0x20, 0x180), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(2, 0x40, 0x280));
    }

    #[test]
    fn a_run_stops_where_a_step_does_not_start_where_the_last_ended() {
        // The second step does not start where the first ended (bp differs).
        let mut odd = state(0x20, 0x180);
        odd.bp = 7;
        let mut trail = recorded(&[
            (
                state(0x10, 0x100),
                reads(&[(0x178, Some(0x20))]),
                Then::At(state(0x20, 0x180)),
            ),
            (
                odd,
                reads(&[(0x1f8, Some(0x30))]),
                Then::At(state(0x30, 0x200)),
            ),
        ]);
        let mut ips = [0; 8];
        let run = trail.replay(state(0x10, 0x100), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(1, 0x20, 0x180));
    }

    #[test]
    fn the_end_of_a_walk_is_replayed_too() {
        let mut trail = recorded(&[(state(0x10, 0x100), reads(&[(0x178, Some(0))]), Then::End)]);
        let mut ips = [0; 8];
        let mut zero = |a: u64| if a == 0x178 { Ok(0) } else { Err(()) };
        let run = trail.replay(state(0x10, 0x100), &mut zero, &mut ips);
        assert_eq!(
            run,
            Some(Run {
                ips: 0,
                then: Then::End
            })
        );
        trail.start();
        let mut moved = |a: u64| if a == 0x178 { Ok(0x99) } else { Err(()) };
        assert_eq!(trail.replay(state(0x10, 0x100), &mut moved, &mut ips), None);
    }

    #[test]
    fn a_replay_fills_no_more_than_asked() {
        let mut trail = walked(&WALK);
        let mut ips = [0; 2];
        let run = trail.replay(state(0x10, 0x100), &mut stack(&WALK), &mut ips);
        assert_eq!(run, ran(2, 0x30, 0x200));
    }

    #[test]
    fn a_refused_read_replays_only_while_it_is_refused() {
        let mut trail = recorded(&[(
            state(0x10, 0x100),
            reads(&[(0x0f8, None), (0x178, Some(0x20))]),
            Then::At(state(0x20, 0x180)),
        )]);
        let mut ips = [0; 4];
        let mut refused = |a: u64| if a == 0x178 { Ok(0x20) } else { Err(()) };
        assert!(
            trail
                .replay(state(0x10, 0x100), &mut refused, &mut ips)
                .is_some()
        );
        trail.start();
        let mut readable = |a: u64| Ok(if a == 0x178 { 0x20 } else { 1 });
        assert!(
            trail
                .replay(state(0x10, 0x100), &mut readable, &mut ips)
                .is_none()
        );
    }

    #[test]
    fn steps_with_more_reads_than_kept_are_not_recorded() {
        let three = reads(&[
            (0x108, Some(0x108)),
            (0x110, Some(0x110)),
            (0x118, Some(0x118)),
        ]);
        let mut trail = recorded(&[(state(0x10, 0x100), three, Then::At(state(0x20, 0x180)))]);
        let mut ips = [0; 4];
        let mut same = |a: u64| Ok(a);
        assert!(
            trail
                .replay(state(0x10, 0x100), &mut same, &mut ips)
                .is_none()
        );
    }
}
