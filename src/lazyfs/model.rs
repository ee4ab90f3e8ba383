//! The lazyfs model: a file tree whose durable state is a plain backing directory and whose
//! live state (what programs on the mount see) is that plus a volatile layer kept in memory,
//! as a disk's page cache would be. Everything the volatile layer holds is lost by
//! [`Model::lose`]; what reached the backing directory survives.
//!
//! What is modelled, exactly:
//! - **File data and size** become durable only when that file is fsynced (`fsync` and
//!   `fdatasync` alike). Writes and truncations before that are kept as dirty extents
//!   ([`Overlay`]) and a pending size; reads merge them over the durable bytes.
//! - **Names** (create, mkdir, rename, unlink, rmdir) change the live tree at once and are
//!   kept in an ordered journal; the next fsync of any file or directory of the mount applies
//!   the whole journal to the backing directory, in order (as ext4's journal commits every
//!   earlier metadata change with an fsync). So a file created and fsynced survives, a name
//!   made durable by an fsync of its directory survives empty when its data was not fsynced,
//!   and a rename or unlink not followed by any fsync is undone by a loss.
//! - Permissions, owners and times are kept in memory and not made durable (a durable file
//!   gets the mode it was created with). Hard links, symlinks, device files and extended
//!   attributes are not supported (the operations fail; nothing is pretended).
//!
//! This module does no FUSE: [`super::fuse`] adapts it to the kernel. It must never touch a
//! path outside the backing directory.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::libc;
use serde_json::{json, Value};

use super::overlay::Overlay;

/// An inode number as the kernel sees it.
pub(crate) type Ino = u64;
/// The root directory's inode number.
pub(crate) const ROOT: Ino = 1;

/// A failed operation: an errno for the kernel.
pub(crate) type Errno = i32;

/// File or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// What `getattr` answers.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ino: Ino,
    pub kind: Kind,
    pub size: u64,
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
    pub nlink: u32,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    /// Where the node is in the live tree; `None` once unlinked (or for the root).
    parent: Option<Ino>,
    name: OsString,
    /// Where its durable entry is, relative to the backing directory (`""` for the root).
    durable: Option<PathBuf>,
    /// Live size of a file.
    size: u64,
    /// How many bytes of the durable file are still visible (a truncation hides the rest).
    base_len: u64,
    /// Bytes written since the last fsync.
    overlay: Overlay,
    /// Whether the data or size changed since the last fsync.
    dirty: bool,
    /// Live entries of a directory.
    children: BTreeMap<OsString, Ino>,
}

impl Node {
    fn new(kind: Kind, perm: u16, uid: u32, gid: u32) -> Node {
        Node {
            kind,
            perm,
            uid,
            gid,
            mtime: SystemTime::now(),
            parent: None,
            name: OsString::new(),
            durable: None,
            size: 0,
            base_len: 0,
            overlay: Overlay::default(),
            dirty: false,
            children: BTreeMap::new(),
        }
    }
}

/// A name change not yet applied to the backing directory (paths relative to it, as they
/// were live when the change was made, which is what the backing directory holds once every
/// earlier change is applied).
#[derive(Debug, Clone)]
enum NameOp {
    Create { ino: Ino, path: PathBuf, kind: Kind },
    Remove { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl NameOp {
    fn path(&self) -> &Path {
        match self {
            NameOp::Create { path, .. } | NameOp::Remove { path } => path,
            NameOp::Rename { to, .. } => to,
        }
    }
}

/// The whole file tree of one mount.
#[derive(Debug)]
pub(crate) struct Model {
    backing: PathBuf,
    nodes: HashMap<Ino, Node>,
    next_ino: Ino,
    journal: Vec<NameOp>,
}

fn io_errno(e: &io::Error) -> Errno {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl Model {
    /// The tree of `backing` as it is on disk, with nothing volatile.
    pub(crate) fn open(backing: &Path) -> io::Result<Model> {
        let mut model = Model {
            backing: backing.to_path_buf(),
            nodes: HashMap::new(),
            next_ino: ROOT + 1,
            journal: Vec::new(),
        };
        model.load()?;
        Ok(model)
    }

    /// (Re)build the live tree from the backing directory. Inode numbers are never reused,
    /// so a kernel that still remembers an old one gets `ENOENT`, not another file.
    fn load(&mut self) -> io::Result<()> {
        self.nodes.clear();
        self.journal.clear();
        let meta = fs::metadata(&self.backing)?;
        let mut root = Node::new(
            Kind::Dir,
            (meta.mode() & 0o7777) as u16,
            meta.uid(),
            meta.gid(),
        );
        root.durable = Some(PathBuf::new());
        self.nodes.insert(ROOT, root);
        self.scan(ROOT, Path::new(""))
    }

    fn scan(&mut self, dir: Ino, rel: &Path) -> io::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(self.backing.join(rel))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let meta = entry.metadata()?;
            let kind = if meta.is_dir() {
                Kind::Dir
            } else if meta.is_file() {
                Kind::File
            } else {
                continue;
            };
            let ino = self.next_ino;
            self.next_ino += 1;
            let mut node = Node::new(kind, (meta.mode() & 0o7777) as u16, meta.uid(), meta.gid());
            node.mtime = meta.modified().unwrap_or(SystemTime::now());
            node.parent = Some(dir);
            node.name = entry.file_name();
            let path = rel.join(entry.file_name());
            node.durable = Some(path.clone());
            if kind == Kind::File {
                node.size = meta.len();
                node.base_len = meta.len();
            }
            self.nodes.insert(ino, node);
            self.node_mut(dir).children.insert(entry.file_name(), ino);
            if kind == Kind::Dir {
                self.scan(ino, &path)?;
            }
        }
        Ok(())
    }

    fn node(&self, ino: Ino) -> Result<&Node, Errno> {
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: Ino) -> &mut Node {
        self.nodes.get_mut(&ino).expect("a known inode")
    }

    fn dir(&self, ino: Ino) -> Result<&Node, Errno> {
        let node = self.node(ino)?;
        if node.kind != Kind::Dir {
            return Err(libc::ENOTDIR);
        }
        Ok(node)
    }

    /// The live path of `ino` relative to the mount, `None` when it (or a directory above
    /// it) was unlinked.
    fn live_path(&self, ino: Ino) -> Option<PathBuf> {
        let mut parts = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let node = self.nodes.get(&at)?;
            parts.push(node.name.clone());
            at = node.parent?;
        }
        Some(parts.iter().rev().collect())
    }

    /// The attributes of `ino`.
    pub(crate) fn attr(&self, ino: Ino) -> Result<Attr, Errno> {
        let node = self.node(ino)?;
        Ok(Attr {
            ino,
            kind: node.kind,
            size: match node.kind {
                Kind::File => node.size,
                Kind::Dir => 4096,
            },
            perm: node.perm,
            uid: node.uid,
            gid: node.gid,
            mtime: node.mtime,
            nlink: match (node.kind, node.parent.is_some() || ino == ROOT) {
                (_, false) => 0,
                (Kind::File, true) => 1,
                (Kind::Dir, true) => 2,
            },
        })
    }

    /// The entry `name` of directory `parent`.
    pub(crate) fn lookup(&self, parent: Ino, name: &OsStr) -> Result<Attr, Errno> {
        let ino = *self.dir(parent)?.children.get(name).ok_or(libc::ENOENT)?;
        self.attr(ino)
    }

    /// The entries of directory `ino`, in name order.
    pub(crate) fn entries(&self, ino: Ino) -> Result<Vec<(OsString, Ino, Kind)>, Errno> {
        let dir = self.dir(ino)?;
        Ok(dir
            .children
            .iter()
            .map(|(name, child)| (name.clone(), *child, self.nodes[child].kind))
            .collect())
    }

    /// Create `name` in `parent` (volatile until fsynced).
    pub(crate) fn create(
        &mut self,
        parent: Ino,
        name: &OsStr,
        kind: Kind,
        perm: u16,
        uid: u32,
        gid: u32,
    ) -> Result<Attr, Errno> {
        if self.dir(parent)?.children.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let path = self.live_path(parent).ok_or(libc::ENOENT)?.join(name);
        let ino = self.next_ino;
        self.next_ino += 1;
        let mut node = Node::new(kind, perm, uid, gid);
        node.parent = Some(parent);
        node.name = name.to_os_string();
        node.dirty = kind == Kind::File;
        self.nodes.insert(ino, node);
        let dir = self.node_mut(parent);
        dir.children.insert(name.to_os_string(), ino);
        dir.mtime = SystemTime::now();
        self.journal.push(NameOp::Create { ino, path, kind });
        self.attr(ino)
    }

    /// Remove the entry `name` of `parent` (a file, or with `dir` an empty directory).
    pub(crate) fn remove(&mut self, parent: Ino, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let ino = *self.dir(parent)?.children.get(name).ok_or(libc::ENOENT)?;
        let node = self.node(ino)?;
        match (node.kind, dir) {
            (Kind::Dir, false) => return Err(libc::EISDIR),
            (Kind::File, true) => return Err(libc::ENOTDIR),
            (Kind::Dir, true) if !node.children.is_empty() => return Err(libc::ENOTEMPTY),
            _ => {}
        }
        if let Some(path) = self.live_path(ino) {
            self.journal.push(NameOp::Remove { path });
        }
        self.unlink_node(ino);
        Ok(())
    }

    fn unlink_node(&mut self, ino: Ino) {
        let node = self.node_mut(ino);
        let parent = node.parent.take();
        let name = std::mem::take(&mut node.name);
        if let Some(parent) = parent {
            let dir = self.node_mut(parent);
            dir.children.remove(&name);
            dir.mtime = SystemTime::now();
        }
    }

    /// Rename `name` of `parent` to `new_name` of `new_parent`, replacing a file or an empty
    /// directory there. `noreplace` fails with `EEXIST` instead.
    pub(crate) fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
        noreplace: bool,
    ) -> Result<(), Errno> {
        let ino = *self.dir(parent)?.children.get(name).ok_or(libc::ENOENT)?;
        self.dir(new_parent)?;
        let kind = self.node(ino)?.kind;
        if kind == Kind::Dir {
            // A directory cannot move below itself.
            let mut at = Some(new_parent);
            while let Some(a) = at {
                if a == ino {
                    return Err(libc::EINVAL);
                }
                at = self.nodes.get(&a).and_then(|n| n.parent);
            }
        }
        if let Some(&old) = self.node(new_parent)?.children.get(new_name) {
            if old == ino {
                return Ok(());
            }
            if noreplace {
                return Err(libc::EEXIST);
            }
            let target = self.node(old)?;
            match (kind, target.kind) {
                (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
                (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
                (Kind::Dir, Kind::Dir) if !target.children.is_empty() => {
                    return Err(libc::ENOTEMPTY)
                }
                _ => {}
            }
            self.unlink_node(old);
        }
        if let (Some(from), Some(dir)) = (self.live_path(ino), self.live_path(new_parent)) {
            self.journal.push(NameOp::Rename {
                from,
                to: dir.join(new_name),
            });
        }
        self.unlink_node(ino);
        let node = self.node_mut(ino);
        node.parent = Some(new_parent);
        node.name = new_name.to_os_string();
        let dir = self.node_mut(new_parent);
        dir.children.insert(new_name.to_os_string(), ino);
        dir.mtime = SystemTime::now();
        Ok(())
    }

    /// Read up to `size` bytes at `offset`.
    pub(crate) fn read(&self, ino: Ino, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        let node = self.node(ino)?;
        if node.kind != Kind::File {
            return Err(libc::EISDIR);
        }
        if offset >= node.size {
            return Ok(Vec::new());
        }
        let len = (node.size - offset).min(u64::from(size)) as usize;
        let mut buf = vec![0u8; len];
        if offset < node.base_len {
            if let Some(durable) = &node.durable {
                let want = (node.base_len - offset).min(len as u64) as usize;
                let mut file = File::open(self.backing.join(durable)).map_err(|e| io_errno(&e))?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| io_errno(&e))?;
                // A short durable file reads as zeros past its end.
                let mut got = 0;
                while got < want {
                    match file.read(&mut buf[got..want]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(io_errno(&e)),
                    }
                }
            }
        }
        node.overlay.read_over(offset, &mut buf);
        Ok(buf)
    }

    /// Write `data` at `offset` (volatile until fsynced).
    pub(crate) fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<u32, Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(libc::ENOENT)?;
        if node.kind != Kind::File {
            return Err(libc::EISDIR);
        }
        node.overlay.write(offset, data);
        node.size = node.size.max(offset + data.len() as u64);
        node.dirty = true;
        node.mtime = SystemTime::now();
        Ok(data.len() as u32)
    }

    /// Change what `setattr` may change: the size (volatile until fsynced), permissions,
    /// owner, modification time (kept in memory only).
    pub(crate) fn set_attr(
        &mut self,
        ino: Ino,
        size: Option<u64>,
        perm: Option<u16>,
        uid: Option<u32>,
        gid: Option<u32>,
        mtime: Option<SystemTime>,
    ) -> Result<Attr, Errno> {
        let node = self.nodes.get_mut(&ino).ok_or(libc::ENOENT)?;
        if let Some(size) = size {
            if node.kind != Kind::File {
                return Err(libc::EISDIR);
            }
            node.overlay.truncate(size);
            node.base_len = node.base_len.min(size);
            node.size = size;
            node.dirty = true;
            node.mtime = SystemTime::now();
        }
        if let Some(perm) = perm {
            node.perm = perm;
        }
        if let Some(uid) = uid {
            node.uid = uid;
        }
        if let Some(gid) = gid {
            node.gid = gid;
        }
        if let Some(mtime) = mtime {
            node.mtime = mtime;
        }
        self.attr(ino)
    }

    /// `fsync` of a file or a directory: every pending name change reaches the backing
    /// directory, in order; for a file, its data and size too.
    pub(crate) fn fsync(&mut self, ino: Ino) -> Result<(), Errno> {
        let kind = self.node(ino)?.kind;
        self.flush_names().map_err(|e| io_errno(&e))?;
        match kind {
            Kind::File => self.sync_data(ino).map_err(|e| io_errno(&e)),
            Kind::Dir => Ok(()),
        }
    }

    fn abs(&self, rel: &Path) -> PathBuf {
        self.backing.join(rel)
    }

    /// The inode whose durable entry is `rel`.
    fn durable_owner(&self, rel: &Path) -> Option<Ino> {
        self.nodes
            .iter()
            .find(|(_, n)| n.durable.as_deref() == Some(rel))
            .map(|(ino, _)| *ino)
    }

    /// The durable entry `rel` is about to go (unlinked, or replaced by a rename): an inode
    /// still holding it (an open, unlinked file) keeps its bytes in memory from now on.
    fn detach_durable(&mut self, rel: &Path) -> io::Result<()> {
        let Some(owner) = self.durable_owner(rel) else {
            return Ok(());
        };
        let node = &self.nodes[&owner];
        if node.kind == Kind::File {
            let mut content = vec![0u8; node.size as usize];
            let mut file = File::open(self.abs(rel))?;
            let want = node.base_len.min(node.size) as usize;
            let mut got = 0;
            while got < want {
                match file.read(&mut content[got..want])? {
                    0 => break,
                    n => got += n,
                }
            }
            node.overlay.read_over(0, &mut content);
            let node = self.node_mut(owner);
            node.overlay.clear();
            node.overlay.write(0, &content);
            node.base_len = 0;
            node.dirty = true;
        }
        self.node_mut(owner).durable = None;
        Ok(())
    }

    /// Apply the journal of name changes to the backing directory, in order, and fsync the
    /// directories they touched.
    fn flush_names(&mut self) -> io::Result<()> {
        let mut touched: Vec<PathBuf> = Vec::new();
        for op in std::mem::take(&mut self.journal) {
            match op {
                NameOp::Create { ino, path, kind } => {
                    match kind {
                        Kind::Dir => fs::create_dir(self.abs(&path))?,
                        Kind::File => {
                            let perm = self.nodes.get(&ino).map_or(0o644, |n| n.perm);
                            self.detach_durable(&path)?;
                            OpenOptions::new()
                                .write(true)
                                .create(true)
                                .truncate(true)
                                .mode(u32::from(perm))
                                .open(self.abs(&path))?;
                        }
                    }
                    if let Some(node) = self.nodes.get_mut(&ino) {
                        node.durable = Some(path.clone());
                        node.base_len = 0;
                    }
                    touched.push(parent_of(&path));
                }
                NameOp::Remove { path } => {
                    let full = self.abs(&path);
                    if full.is_dir() {
                        fs::remove_dir(&full)?;
                    } else {
                        self.detach_durable(&path)?;
                        fs::remove_file(&full)?;
                    }
                    if let Some(owner) = self.durable_owner(&path) {
                        self.node_mut(owner).durable = None;
                    }
                    touched.push(parent_of(&path));
                }
                NameOp::Rename { from, to } => {
                    if self.abs(&to).is_file() {
                        self.detach_durable(&to)?;
                    } else if let Some(owner) = self.durable_owner(&to) {
                        self.node_mut(owner).durable = None;
                    }
                    fs::rename(self.abs(&from), self.abs(&to))?;
                    for node in self.nodes.values_mut() {
                        if let Some(path) = &node.durable {
                            if let Ok(rest) = path.strip_prefix(&from) {
                                node.durable = Some(if rest.as_os_str().is_empty() {
                                    to.clone()
                                } else {
                                    to.join(rest)
                                });
                            }
                        }
                    }
                    touched.push(parent_of(&from));
                    touched.push(parent_of(&to));
                }
            }
        }
        touched.sort();
        touched.dedup();
        for dir in touched {
            let dir = self.abs(&dir);
            if dir.is_dir() {
                sync_dir(&dir)?;
            }
        }
        Ok(())
    }

    /// Write a file's dirty extents and size to its durable file, and fsync it.
    fn sync_data(&mut self, ino: Ino) -> io::Result<()> {
        let backing = self.backing.clone();
        let node = self.node_mut(ino);
        let Some(durable) = &node.durable else {
            // Unlinked: nothing of it can survive.
            return Ok(());
        };
        if !node.dirty {
            return Ok(());
        }
        let mut file = OpenOptions::new().write(true).open(backing.join(durable))?;
        file.set_len(node.base_len)?;
        for (offset, bytes) in node.overlay.runs() {
            file.seek(SeekFrom::Start(offset))?;
            file.write_all(bytes)?;
        }
        file.set_len(node.size)?;
        file.sync_all()?;
        node.overlay.clear();
        node.base_len = node.size;
        node.dirty = false;
        Ok(())
    }

    /// Drop everything volatile: the tree becomes the backing directory again. Says what
    /// was lost: `{"files": [...], "bytes": N, "names": M}` (files with lost data or names,
    /// up to 20; dirty bytes; name changes not yet durable).
    pub(crate) fn lose(&mut self) -> io::Result<Value> {
        let mut files: Vec<String> = Vec::new();
        let mut bytes = 0;
        let mut inos: Vec<&Ino> = self.nodes.keys().collect();
        inos.sort();
        for ino in inos {
            let node = &self.nodes[ino];
            if node.kind == Kind::File && node.dirty {
                if let Some(live) = self.live_path(*ino) {
                    bytes += node.overlay.bytes();
                    files.push(live.display().to_string());
                }
            }
        }
        for op in &self.journal {
            let path = op.path().display().to_string();
            if !files.contains(&path) {
                files.push(path);
            }
        }
        let names = self.journal.len();
        files.truncate(20);
        self.load()?;
        Ok(json!({ "files": files, "bytes": bytes, "names": names }))
    }

    /// How much is volatile now (`{"bytes", "files"}`).
    pub(crate) fn pending(&self) -> Value {
        let dirty: Vec<&Node> = self.nodes.values().filter(|n| n.dirty).collect();
        json!({
            "files": dirty.len(),
            "bytes": dirty.iter().map(|n| n.overlay.bytes()).sum::<u64>(),
            "names": self.journal.len(),
        })
    }

    /// Filesystem statistics of the backing directory.
    pub(crate) fn statfs(&self) -> Result<nix::sys::statvfs::Statvfs, Errno> {
        nix::sys::statvfs::statvfs(&self.backing).map_err(|e| e as i32)
    }
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Keep the mode bits a created file may have.
pub(crate) fn perm_of(mode: u32, umask: u32) -> u16 {
    ((mode & !umask) & 0o7777) as u16
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
