//! Tests of the lazyfs model: what survives a loss, and POSIX errors.

use super::*;

fn model() -> (tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::open(dir.path()).unwrap();
    (dir, model)
}

fn ino(m: &Model, path: &str) -> Option<Ino> {
    let mut at = ROOT;
    for part in path.split('/') {
        at = m.lookup(at, OsStr::new(part)).ok()?.ino;
    }
    Some(at)
}

fn content(m: &Model, path: &str) -> Option<Vec<u8>> {
    let i = ino(m, path)?;
    Some(m.read(i, 0, 1 << 20).unwrap())
}

fn new_file(m: &mut Model, parent: Ino, name: &str) -> Ino {
    m.create(parent, OsStr::new(name), Kind::File, 0o644, 0, 0)
        .unwrap()
        .ino
}

#[test]
fn unsynced_data_is_lost_and_synced_data_kept() {
    let (dir, mut m) = model();
    let a = new_file(&mut m, ROOT, "a");
    m.write(a, 0, b"hello").unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"hello");
    let lost = m.lose().unwrap();
    assert_eq!(lost["bytes"], 5);
    assert!(content(&m, "a").is_none(), "an unsynced create is lost too");

    let a = new_file(&mut m, ROOT, "a");
    m.write(a, 0, b"hello").unwrap();
    m.fsync(a).unwrap();
    m.write(a, 5, b" world").unwrap();
    m.set_attr(a, Some(3), None, None, None, None).unwrap();
    m.write(a, 6, b"!").unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"hel\0\0\0!");
    let lost = m.lose().unwrap();
    assert_eq!(lost["files"], json!(["a"]));
    assert_eq!(content(&m, "a").unwrap(), b"hello");
    assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"hello");

    // Appends after an fsync, then a truncation that is fsynced.
    let a = ino(&m, "a").unwrap();
    m.write(a, 5, b"!!").unwrap();
    m.set_attr(a, Some(6), None, None, None, None).unwrap();
    m.fsync(a).unwrap();
    m.lose().unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"hello!");
}

#[test]
fn names_are_durable_after_fsync_of_the_file_or_its_directory() {
    let (dir, mut m) = model();
    // fsync of the directory makes a new name durable, but not its data.
    let a = new_file(&mut m, ROOT, "a");
    m.write(a, 0, b"data").unwrap();
    m.fsync(ROOT).unwrap();
    m.lose().unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"");

    // Write a temporary file, fsync it, rename it over the old one: the rename is lost
    // without an fsync of the directory, kept with it.
    let a = ino(&m, "a").unwrap();
    m.write(a, 0, b"old").unwrap();
    m.fsync(a).unwrap();
    let t = new_file(&mut m, ROOT, "a.tmp");
    m.write(t, 0, b"new").unwrap();
    m.fsync(t).unwrap();
    m.rename(ROOT, OsStr::new("a.tmp"), ROOT, OsStr::new("a"), false)
        .unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"new");
    assert!(ino(&m, "a.tmp").is_none());
    m.lose().unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"old");
    assert_eq!(content(&m, "a.tmp").unwrap(), b"new");

    m.rename(ROOT, OsStr::new("a.tmp"), ROOT, OsStr::new("a"), false)
        .unwrap();
    m.fsync(ROOT).unwrap();
    m.lose().unwrap();
    assert_eq!(content(&m, "a").unwrap(), b"new");
    assert!(ino(&m, "a.tmp").is_none());
    assert!(!dir.path().join("a.tmp").exists());

    // An unlink is durable after fsync of the directory.
    let a = ino(&m, "a").unwrap();
    m.remove(ROOT, OsStr::new("a"), false).unwrap();
    assert!(ino(&m, "a").is_none());
    m.lose().unwrap();
    assert!(ino(&m, "a").is_some());
    m.remove(ROOT, OsStr::new("a"), false).unwrap();
    m.fsync(ROOT).unwrap();
    m.lose().unwrap();
    assert!(ino(&m, "a").is_none() && a != 0);

    // fsync of a file in a new directory makes the directory durable too.
    let d = m
        .create(ROOT, OsStr::new("d"), Kind::Dir, 0o755, 0, 0)
        .unwrap()
        .ino;
    let f = new_file(&mut m, d, "f");
    m.write(f, 0, b"x").unwrap();
    m.fsync(f).unwrap();
    // A renamed directory carries its durable files along when it is made durable.
    m.rename(ROOT, OsStr::new("d"), ROOT, OsStr::new("e"), false)
        .unwrap();
    m.fsync(ROOT).unwrap();
    m.lose().unwrap();
    assert_eq!(content(&m, "e/f").unwrap(), b"x");
    assert!(ino(&m, "d").is_none());
}

#[test]
fn errors_match_posix() {
    let (_dir, mut m) = model();
    let d = m
        .create(ROOT, OsStr::new("d"), Kind::Dir, 0o755, 0, 0)
        .unwrap()
        .ino;
    new_file(&mut m, d, "f");
    assert_eq!(
        m.remove(ROOT, OsStr::new("d"), true).unwrap_err(),
        libc::ENOTEMPTY
    );
    assert_eq!(
        m.create(d, OsStr::new("f"), Kind::File, 0o644, 0, 0)
            .unwrap_err(),
        libc::EEXIST
    );
    assert_eq!(
        m.rename(ROOT, OsStr::new("d"), d, OsStr::new("x"), false)
            .unwrap_err(),
        libc::EINVAL
    );
    assert_eq!(
        m.lookup(ROOT, OsStr::new("nope")).unwrap_err(),
        libc::ENOENT
    );
}
