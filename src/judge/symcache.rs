//! Function names, files and lines of this test binary's code addresses,
//! kept on disk for the binary's other processes: under nextest every
//! test is a process of its own, and each would otherwise load debug info
//! (~0.3 s in a large debug binary) to learn the same few names.
//!
//! The cache of a binary is one file, `target/taskleak/symbols/<key>`,
//! where the key is the binary's GNU build id (or, without one, a hash of
//! its bytes): a rebuilt binary has another key, so it never reads what
//! an older build cached. The file names its key again in its first line,
//! and is replaced whole (a temporary file, then a rename), so a reader
//! sees one writer's complete file or none. Addresses are kept as offsets
//! from the binary's load address (the same in every process, whatever
//! ASLR chose), and only the binary's own: a shared library's addresses
//! are looked up as before.
//!
//! It is used where processes repeat each other's lookups: under
//! cargo-nextest (a process per test). `TASKLEAK_SYMBOL_CACHE=on` uses it
//! in any run, `=off` in none, and any other value names the directory
//! to keep it in (then it is on).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::capture::frames::Raw;

/// The first line's start; the format's version is part of it.
const HEADER: &str = "taskleak symbol cache 1";
/// The last line: a file without it was cut short.
const END: &str = "end\n";

/// Addresses this process found in the shared cache.
static HITS: AtomicUsize = AtomicUsize::new(0);

/// The loaded binary: where its code lies in this process, and its key.
struct Exe {
    bias: usize,
    code: Vec<(usize, usize)>,
    file: PathBuf,
}

struct State {
    exe: Exe,
    file: PathBuf,
    /// What earlier processes cached, by offset: all that [`get`] reads
    /// (what this process looked up itself is in its own cache).
    cached: HashMap<usize, Vec<Raw>>,
    /// What this process looked up, by offset.
    learnt: HashMap<usize, Vec<Raw>>,
    /// Learnt but not yet written.
    unwritten: bool,
}

static STATE: LazyLock<Option<Mutex<State>>> = LazyLock::new(|| {
    let default = || Some(target_dir()?.join("taskleak").join("symbols"));
    let dir = match std::env::var_os("TASKLEAK_SYMBOL_CACHE") {
        Some(v) if v == "off" => return None,
        Some(v) if v == "on" => default()?,
        Some(v) if !v.is_empty() => PathBuf::from(v),
        // A libtest binary runs its tests in one process, whose own cache
        // serves them all.
        _ if std::env::var_os("NEXTEST_RUN_ID").is_some() => default()?,
        _ => return None,
    };
    let (exe, build_id) = this_binary()?;
    let key = match build_id {
        Some(id) => hex(&id),
        None => format!("h{:016x}", hash_file(&exe.file)?),
    };
    let file = dir.join(&key);
    let cached = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| parse(&text, &key))
        .unwrap_or_default();
    Some(Mutex::new(State {
        exe,
        file,
        cached,
        learnt: HashMap::new(),
        unwritten: false,
    }))
});

/// The frames of `ip` if a process of this very build cached them.
pub(crate) fn get(ip: usize) -> Option<Vec<Raw>> {
    let state = STATE.as_ref()?.lock();
    let frames = state.cached.get(&state.exe.offset(ip)?)?.clone();
    HITS.fetch_add(1, Relaxed);
    Some(frames)
}

/// Notes the frames of `ip` for the binary's next processes (written by
/// [`flush`]).
pub(crate) fn put(ip: usize, frames: &[Raw]) {
    let Some(state) = STATE.as_ref() else {
        return;
    };
    let mut state = state.lock();
    let Some(offset) = state.exe.offset(ip) else {
        return;
    };
    if frames.iter().all(writable) && !state.learnt.contains_key(&offset) {
        state.learnt.insert(offset, frames.to_vec());
        state.unwritten = true;
    }
}

/// Writes what this process learnt since the last write, merged with what
/// other processes wrote meanwhile. A failed write only costs a later
/// process a lookup.
pub(crate) fn flush() {
    let Some(state) = STATE.as_ref() else {
        return;
    };
    // Held through the write: this process's writers take turns, so none
    // renames a file over one that knew more.
    let mut state = state.lock();
    if !state.unwritten {
        return;
    }
    state.unwritten = false;
    let key = state.file.file_name().unwrap_or_default().to_string_lossy();
    let on_disk = std::fs::read_to_string(&state.file)
        .ok()
        .and_then(|text| parse(&text, &key))
        .unwrap_or_default();
    let mut all = on_disk;
    let known = state.cached.iter().chain(&state.learnt);
    all.extend(known.map(|(k, v)| (*k, v.clone())));
    let _ = write(&state.file, &render(&key, &all));
}

/// How many addresses this process found in the shared cache.
pub(crate) fn hits() -> usize {
    HITS.load(Relaxed)
}

impl Exe {
    fn offset(&self, ip: usize) -> Option<usize> {
        self.code
            .iter()
            .any(|&(lo, hi)| (lo..hi).contains(&ip))
            .then(|| ip - self.bias)
    }
}

fn write(file: &Path, text: &str) -> std::io::Result<()> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    if N.load(Relaxed) == 0 {
        prune(dir);
    }
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        file.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(text.as_bytes()));
    match written.and_then(|()| std::fs::rename(&tmp, file)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Files not written for this long belong to builds long gone: each
/// build of each test binary leaves one (a few KB), so the first write
/// of a process removes them.
const STALE: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Can a frame go in the file's tab-separated lines?
fn writable(f: &Raw) -> bool {
    let clean = |s: &str| !s.contains(['\t', '\n', '\r']);
    clean(&f.function)
        && f.file
            .as_deref()
            .is_none_or(|p| p.to_str().is_some_and(clean))
}

/// `@offset count` then a line per frame: `line \t function \t =file`
/// (empty fields for none); `end` last.
fn render(key: &str, all: &HashMap<usize, Vec<Raw>>) -> String {
    let mut offsets: Vec<&usize> = all.keys().collect();
    offsets.sort();
    let mut out = format!("{HEADER} {key}\n");
    for offset in offsets {
        let frames = &all[offset];
        out += &format!("@{offset:x} {}\n", frames.len());
        for f in frames {
            let line = f.line.map(|l| l.to_string()).unwrap_or_default();
            let file = f.file.as_deref().and_then(Path::to_str);
            let file = file.map(|p| format!("={p}")).unwrap_or_default();
            out += &format!("{line}\t{}\t{file}\n", f.function);
        }
    }
    out + END
}

/// The entries of a cache file written for `key`; `None` for a file of
/// another key or format, or a damaged one (never partly trusted).
fn parse(text: &str, key: &str) -> Option<HashMap<usize, Vec<Raw>>> {
    let mut lines = text.lines();
    if lines.next()? != format!("{HEADER} {key}") {
        return None;
    }
    let mut out = HashMap::new();
    while let Some(head) = lines.next() {
        if head == END.trim_end() {
            return lines.next().is_none().then_some(out);
        }
        let (offset, count) = head.strip_prefix('@')?.split_once(' ')?;
        let offset = usize::from_str_radix(offset, 16).ok()?;
        let mut frames = Vec::new();
        for _ in 0..count.parse::<usize>().ok()? {
            let mut fields = lines.next()?.splitn(3, '\t');
            let line = match fields.next()? {
                "" => None,
                n => Some(n.parse().ok()?),
            };
            let function = fields.next()?.to_owned();
            let file = match fields.next()? {
                "" => None,
                f => Some(PathBuf::from(f.strip_prefix('=')?)),
            };
            frames.push(Raw {
                function,
                file,
                line,
            });
        }
        out.insert(offset, frames);
    }
    None // no end line: cut short
}

/// cargo's target directory, the nearest above this binary that holds
/// cargo's `CACHEDIR.TAG`; `None` for a binary run from elsewhere.
fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe
        .ancestors()
        .skip(1)
        .find(|d| d.join("CACHEDIR.TAG").is_file())?;
    Some(dir.to_path_buf())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash of the binary's bytes, for a binary linked without a build id.
fn hash_file(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    for w in words.chain([tail]) {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    Some(h)
}

/// The main program's load bias, executable segments and GNU build id,
/// from the loader's program headers (no file read).
#[cfg(target_os = "linux")]
fn this_binary() -> Option<(Exe, Option<Vec<u8>>)> {
    struct Found {
        bias: usize,
        code: Vec<(usize, usize)>,
        build_id: Option<Vec<u8>>,
    }
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid `info`; `data` is the `Found`
        // below, borrowed for this call only.
        let (info, found) = unsafe { (&*info, &mut *data.cast::<Option<Found>>()) };
        let bias = info.dlpi_addr as usize;
        // SAFETY: `dlpi_phdr` points at `dlpi_phnum` headers.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let mut code = Vec::new();
        let mut build_id = None;
        for h in headers {
            let start = bias + h.p_vaddr as usize;
            if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_X != 0 {
                code.push((start, start + h.p_memsz as usize));
            }
            if h.p_type == libc::PT_NOTE && build_id.is_none() {
                // SAFETY: a PT_NOTE segment is mapped, `p_memsz` bytes.
                let notes =
                    unsafe { std::slice::from_raw_parts(start as *const u8, h.p_memsz as usize) };
                build_id = gnu_build_id(notes);
            }
        }
        *found = Some(Found {
            bias,
            code,
            build_id,
        });
        1 // the main program comes first: stop
    }
    let mut found: Option<Found> = None;
    // SAFETY: `first` matches the callback type and only writes `found`.
    unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut found).cast()) };
    let found = found?;
    let exe = Exe {
        bias: found.bias,
        code: found.code,
        file: std::env::current_exe().ok()?,
    };
    Some((exe, found.build_id))
}

#[cfg(not(target_os = "linux"))]
fn this_binary() -> Option<(Exe, Option<Vec<u8>>)> {
    None
}

/// The descriptor of the `NT_GNU_BUILD_ID` note among `notes`.
fn gnu_build_id(mut notes: &[u8]) -> Option<Vec<u8>> {
    const NT_GNU_BUILD_ID: u32 = 3;
    let word = |b: &[u8], i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
    };
    let pad = |n: usize| n.div_ceil(4) * 4;
    while notes.len() >= 12 {
        let (name_size, desc_size, kind) = (word(notes, 0)?, word(notes, 4)?, word(notes, 8)?);
        let name_end = 12 + pad(name_size as usize);
        let desc_end = name_end + pad(desc_size as usize);
        let name = notes.get(12..12 + name_size as usize)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
            return Some(notes.get(name_end..name_end + desc_size as usize)?.to_vec());
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(function: &str, file: Option<&str>, line: Option<u32>) -> Raw {
        Raw {
            function: function.into(),
            file: file.map(PathBuf::from),
            line,
        }
    }

    #[test]
    fn a_file_reads_back_what_was_written_and_only_for_its_key() {
        let mut all = HashMap::new();
        all.insert(0x10, vec![raw("a::b", Some("/x/src/lib.rs"), Some(7))]);
        all.insert(
            0x2f,
            vec![raw("c", None, None), raw("d::e<T>", Some("e.rs"), None)],
        );
        let text = render("abc", &all);
        assert_eq!(parse(&text, "abc"), Some(all));
        assert_eq!(parse(&text, "abd"), None, "another build's file");
        let cut = &text[..text.len() - 5];
        assert_eq!(parse(cut, "abc"), None, "a damaged file is not trusted");
    }

    #[test]
    fn files_of_builds_long_gone_are_removed() {
        let dir = std::env::temp_dir().join(format!("taskleak-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (old, new) = (dir.join("old"), dir.join("new"));
        std::fs::write(&new, "x").unwrap();
        let f = std::fs::File::create(&old).unwrap();
        let then = std::time::SystemTime::now() - STALE - std::time::Duration::from_secs(60);
        f.set_modified(then).unwrap();
        prune(&dir);
        assert!(!old.exists() && new.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn frames_with_tabs_or_newlines_are_not_written() {
        assert!(writable(&raw("a::b", Some("/x.rs"), Some(1))));
        assert!(!writable(&raw("a\tb", None, None)));
        assert!(!writable(&raw("a", Some("x\ny.rs"), None)));
    }

    #[test]
    fn the_build_id_note_is_found_among_others() {
        let mut notes = Vec::new();
        for (name, kind, desc) in [
            (&b"GNU\0"[..], 1u32, &[1u8, 2, 3, 4][..]),
            (b"GNU\0", 3, &[9, 8, 7, 6, 5]),
        ] {
            notes.extend((name.len() as u32).to_ne_bytes());
            notes.extend((desc.len() as u32).to_ne_bytes());
            notes.extend(kind.to_ne_bytes());
            notes.extend(name);
            notes.extend(desc);
            notes.resize(notes.len().div_ceil(4) * 4, 0);
        }
        assert_eq!(gnu_build_id(&notes), Some(vec![9, 8, 7, 6, 5]));
        assert_eq!(gnu_build_id(&notes[..20]), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_binary_has_code_where_this_function_is() {
        let (exe, _) = this_binary().unwrap();
        let here = this_binary_has_code_where_this_function_is as *const () as usize;
        assert!(exe.offset(here).is_some());
        assert_eq!(exe.offset(0), None);
    }
}
