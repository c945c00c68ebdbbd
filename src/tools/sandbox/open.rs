//! Opening a workspace path so that what is read is what was checked: the path is resolved
//! from a descriptor of its root without following any symbolic link and without blocking
//! (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` on Linux, else `openat` with
//! `O_NOFOLLOW | O_NONBLOCK` one component at a time), then the opened descriptor's type and
//! real path are checked. A file or directory swapped for a link, a FIFO or a device between
//! the sandbox's check and the read is refused instead of followed or waited on.

use std::fs::File;
use std::io;
use std::path::Path;

/// What was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A FIFO, socket or device: never read.
    Other,
}

/// An open descriptor with its type and size (from `fstat` on the descriptor itself).
#[derive(Debug)]
pub struct Opened {
    pub file: File,
    pub kind: Kind,
    pub len: u64,
}

/// Why an open failed.
#[derive(Debug)]
pub enum OpenError {
    NotFound,
    /// A symbolic link (or a non-directory in place of a directory) was met on the way: the
    /// path changed since it was checked.
    Link,
    /// The descriptor's real path is not the path that was asked for (a directory was moved
    /// while the path was opened).
    Moved,
    Io(io::Error),
}

/// Opens `root/relative`, where `root` is a canonical directory and `relative` holds only
/// plain names (no `.`, `..` or root). An empty `relative` opens the root.
pub fn open_beneath(root: &Path, relative: &Path) -> Result<Opened, OpenError> {
    imp::open_beneath(root, relative)
}

/// True when the entry `root/relative` that a directory walk reported (with the inode
/// number the walk read, when known) is really there: every directory on the way is a real
/// directory (no link) and the name still has that inode. A walk that read a directory
/// through a link swapped in for it reports entries that fail this check.
pub fn entry_is_beneath(root: &Path, relative: &Path, inode: Option<u64>) -> bool {
    imp::entry_is_beneath(root, relative, inode)
}

#[cfg(unix)]
mod imp {
    use std::ffi::OsStr;
    use std::fs::File;
    use std::os::fd::OwnedFd;
    use std::path::{Component, Path};

    use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, fstat, openat, statat};
    use rustix::io::Errno;

    use super::{Kind, OpenError, Opened};

    fn names(relative: &Path) -> Result<Vec<&OsStr>, OpenError> {
        relative
            .components()
            .map(|component| match component {
                Component::Normal(name) => Ok(name),
                _ => Err(OpenError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the path is not a plain relative path",
                ))),
            })
            .collect()
    }

    fn from_errno(errno: Errno) -> OpenError {
        match errno {
            Errno::NOENT => OpenError::NotFound,
            // ELOOP: a link where O_NOFOLLOW / RESOLVE_NO_SYMLINKS forbids one; ENOTDIR:
            // something else than a directory in the middle; EXDEV: resolution left the root;
            // EAGAIN: a rename raced with openat2; EMLINK: BSDs' O_NOFOLLOW on a link.
            Errno::LOOP | Errno::NOTDIR | Errno::XDEV | Errno::AGAIN | Errno::MLINK => {
                OpenError::Link
            }
            other => OpenError::Io(other.into()),
        }
    }

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NONBLOCK);
    const LEAF_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC)
        .union(OFlags::NONBLOCK)
        .union(OFlags::NOCTTY);

    fn open_root(root: &Path) -> Result<OwnedFd, OpenError> {
        openat(CWD, root, DIR_FLAGS, Mode::empty()).map_err(from_errno)
    }

    /// `openat2` beneath the root; `None` when the kernel (or a seccomp filter) lacks it.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn open_resolved(
        root: &OwnedFd,
        relative: &Path,
        flags: OFlags,
    ) -> Option<Result<OwnedFd, Errno>> {
        use std::sync::atomic::{AtomicBool, Ordering};

        use rustix::fs::{ResolveFlags, openat2};

        static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
        if UNSUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let mut attempts = 0;
        loop {
            match openat2(root, relative, flags, Mode::empty(), resolve) {
                Err(Errno::NOSYS) => {
                    UNSUPPORTED.store(true, Ordering::Relaxed);
                    return None;
                }
                // Some container filters answer EPERM for syscalls they don't know.
                Err(Errno::PERM) | Err(Errno::INVAL) => return None,
                // The kernel saw a concurrent rename and asks to retry.
                Err(Errno::AGAIN) if attempts < 3 => attempts += 1,
                result => return Some(result),
            }
        }
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn open_resolved(_: &OwnedFd, _: &Path, _: OFlags) -> Option<Result<OwnedFd, Errno>> {
        None
    }

    /// One component at a time, each opened relative to its parent's descriptor with
    /// `O_NOFOLLOW`, so no link anywhere on the way is followed.
    fn open_walk(root: OwnedFd, names: &[&OsStr], leaf_flags: OFlags) -> Result<OwnedFd, Errno> {
        let mut current = root;
        for (index, name) in names.iter().enumerate() {
            let flags = if index + 1 == names.len() {
                leaf_flags
            } else {
                DIR_FLAGS
            };
            current = openat(&current, *name, flags, Mode::empty())?;
        }
        Ok(current)
    }

    fn open_fd(root: &Path, relative: &Path, leaf_flags: OFlags) -> Result<OwnedFd, OpenError> {
        let names = names(relative)?;
        let root_fd = open_root(root)?;
        if names.is_empty() {
            return Ok(root_fd);
        }
        match open_resolved(&root_fd, relative, leaf_flags) {
            Some(result) => result.map_err(from_errno),
            None => open_walk(root_fd, &names, leaf_flags).map_err(from_errno),
        }
    }

    /// Where the descriptor really is, when the system can tell.
    fn real_path(fd: &OwnedFd) -> Option<std::path::PathBuf> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::fd::AsRawFd;
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = fd;
            None
        }
    }

    pub fn open_beneath(root: &Path, relative: &Path) -> Result<Opened, OpenError> {
        let fd = open_fd(root, relative, LEAF_FLAGS)?;
        let stat = fstat(&fd).map_err(from_errno)?;
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            _ => Kind::Other,
        };
        if let Some(real) = real_path(&fd)
            && real != root.join(relative)
        {
            return Err(OpenError::Moved);
        }
        Ok(Opened {
            file: File::from(fd),
            kind,
            len: u64::try_from(stat.st_size).unwrap_or(0),
        })
    }

    pub fn entry_is_beneath(root: &Path, relative: &Path, inode: Option<u64>) -> bool {
        let Some(name) = relative.file_name() else {
            return false;
        };
        let parent = relative.parent().unwrap_or(Path::new(""));
        let Ok(parent_fd) = open_fd(root, parent, DIR_FLAGS) else {
            return false;
        };
        if let Some(real) = real_path(&parent_fd)
            && real != root.join(parent)
        {
            return false;
        }
        let Ok(stat) = statat(&parent_fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return false;
        };
        // `st_ino` is not u64 on every unix.
        #[allow(clippy::unnecessary_cast)]
        let found = stat.st_ino as u64;
        match inode {
            None => true,
            Some(inode) if inode == found => true,
            Some(_) => {
                // A mount point reads as the covered inode in its parent's listing; it is a
                // real directory on another device, which a link swap cannot produce.
                let parent_dev = fstat(&parent_fd).map(|parent| parent.st_dev).ok();
                FileType::from_raw_mode(stat.st_mode) == FileType::Directory
                    && parent_dev.is_some_and(|dev| dev != stat.st_dev)
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::fs::File;
    use std::path::Path;

    use super::{Kind, OpenError, Opened};

    pub fn open_beneath(root: &Path, relative: &Path) -> Result<Opened, OpenError> {
        let path = root.join(relative);
        let meta = std::fs::symlink_metadata(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => OpenError::NotFound,
            _ => OpenError::Io(error),
        })?;
        if meta.file_type().is_symlink() {
            return Err(OpenError::Link);
        }
        let file = File::open(&path).map_err(OpenError::Io)?;
        let meta = file.metadata().map_err(OpenError::Io)?;
        let kind = if meta.is_file() {
            Kind::File
        } else if meta.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        Ok(Opened {
            file,
            kind,
            len: meta.len(),
        })
    }

    pub fn entry_is_beneath(root: &Path, relative: &Path, _inode: Option<u64>) -> bool {
        std::fs::symlink_metadata(root.join(relative)).is_ok()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::tools::test_support::make_fifo;

    fn tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("ws");
        let outside = base.join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("sub/a.txt"), "inside").unwrap();
        std::fs::write(outside.join("a.txt"), "OUTSIDE").unwrap();
        (dir, root, outside)
    }

    #[test]
    fn opens_files_and_directories_beneath_the_root() {
        let (_dir, root, _) = tree();
        let mut opened = open_beneath(&root, Path::new("sub/a.txt")).unwrap();
        assert_eq!(opened.kind, Kind::File);
        assert_eq!(opened.len, 6);
        let mut text = String::new();
        opened.file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "inside");
        assert_eq!(
            open_beneath(&root, Path::new("sub")).unwrap().kind,
            Kind::Dir
        );
        assert_eq!(open_beneath(&root, Path::new("")).unwrap().kind, Kind::Dir);
        assert!(matches!(
            open_beneath(&root, Path::new("sub/missing")),
            Err(OpenError::NotFound)
        ));
        assert!(open_beneath(&root, Path::new("sub/../sub/a.txt")).is_err());
    }

    #[test]
    fn links_anywhere_on_the_way_are_refused() {
        let (_dir, root, outside) = tree();
        symlink(outside.join("a.txt"), root.join("file_link")).unwrap();
        symlink(&outside, root.join("dir_link")).unwrap();
        symlink(root.join("sub/a.txt"), root.join("inner_link")).unwrap();
        for path in ["file_link", "dir_link/a.txt", "inner_link", "dir_link"] {
            let result = open_beneath(&root, Path::new(path));
            assert!(matches!(result, Err(OpenError::Link)), "{path}: {result:?}");
        }
    }

    #[test]
    fn a_fifo_opens_at_once_and_reads_as_other() {
        let (_dir, root, _) = tree();
        let fifo = root.join("pipe");
        make_fifo(&fifo);
        // Without O_NONBLOCK this open would wait forever for a writer.
        let opened = open_beneath(&root, Path::new("pipe")).unwrap();
        assert_eq!(opened.kind, Kind::Other);
        assert!(matches!(
            open_beneath(&root, Path::new("pipe/x")),
            Err(OpenError::Link)
        ));
    }

    #[test]
    fn walk_entries_are_checked_by_inode() {
        use std::os::unix::fs::MetadataExt;
        let (_dir, root, outside) = tree();
        let inside = std::fs::metadata(root.join("sub/a.txt")).unwrap().ino();
        let elsewhere = std::fs::metadata(outside.join("a.txt")).unwrap().ino();
        assert!(entry_is_beneath(
            &root,
            Path::new("sub/a.txt"),
            Some(inside)
        ));
        assert!(entry_is_beneath(&root, Path::new("sub"), None));
        assert!(!entry_is_beneath(
            &root,
            Path::new("sub/a.txt"),
            Some(elsewhere)
        ));
        symlink(&outside, root.join("dir_link")).unwrap();
        assert!(!entry_is_beneath(
            &root,
            Path::new("dir_link/a.txt"),
            Some(elsewhere)
        ));
        assert!(entry_is_beneath(&root, Path::new("dir_link"), None));
    }
}
