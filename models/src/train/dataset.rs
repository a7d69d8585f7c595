//! The training dataset: one folder per emotion (`happy/`, `angry/`, `sad/`, `fun/`,
//! `neutral/`) of image files. Missing or extra class folders and classes with too few images
//! are refused with the folder named; files that are not images by their extension (and hidden
//! entries) are skipped and listed.

use std::path::{Path, PathBuf};

use ekphrasis_shared::domain::Emotion;

use crate::error::{Error, Result};

/// The fewest images a class may have: enough for one held-out image and a few to train on.
pub const MIN_IMAGES_PER_CLASS: usize = 4;

/// File extensions taken as images (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// One labelled image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The file.
    pub path: PathBuf,
    /// Its emotion's index in `Emotion::ALL`.
    pub label: usize,
}

/// The images of a dataset folder, in a fixed order (by class, then by file name).
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The dataset folder.
    pub root: PathBuf,
    /// Every image, by class then name.
    pub items: Vec<Item>,
    /// Entries that were skipped: files without an image extension, sub-folders of class folders.
    pub skipped: Vec<PathBuf>,
}

impl Dataset {
    /// Lists a dataset folder, refusing one that is not laid out as one folder per emotion.
    pub fn scan(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::MissingFile {
                path: root.to_owned(),
                what: "dataset folder (one sub-folder per emotion: happy, angry, sad, fun, neutral)",
            });
        }
        let mut skipped = Vec::new();
        for entry in read_dir_sorted(root)? {
            let name = file_name(&entry);
            if name.starts_with('.') {
                continue;
            }
            if entry.is_dir() {
                if !Emotion::ALL.iter().any(|e| e.as_str() == name) {
                    return Err(Error::Input(format!(
                        "{}: unexpected folder in the dataset; it needs exactly one folder per \
                         emotion, named happy, angry, sad, fun and neutral",
                        entry.display()
                    )));
                }
            } else {
                skipped.push(entry);
            }
        }
        let mut items = Vec::new();
        for (label, emotion) in Emotion::ALL.iter().enumerate() {
            let folder = root.join(emotion.as_str());
            if !folder.is_dir() {
                return Err(Error::MissingFile {
                    path: folder,
                    what: "class folder (the dataset needs one folder per emotion: happy, angry, \
                           sad, fun, neutral)",
                });
            }
            let mut count = 0;
            for entry in read_dir_sorted(&folder)? {
                let name = file_name(&entry);
                if name.starts_with('.') {
                    continue;
                }
                if entry.is_file() && is_image_name(&name) {
                    items.push(Item { path: entry, label });
                    count += 1;
                } else {
                    skipped.push(entry);
                }
            }
            if count < MIN_IMAGES_PER_CLASS {
                return Err(Error::Input(format!(
                    "{}: {count} image(s); every emotion needs at least {MIN_IMAGES_PER_CLASS} \
                     ({})",
                    folder.display(),
                    IMAGE_EXTENSIONS.join(", ")
                )));
            }
        }
        Ok(Self {
            root: root.to_owned(),
            items,
            skipped,
        })
    }

    /// Every item's label, in order.
    pub fn labels(&self) -> Vec<usize> {
        self.items.iter().map(|item| item.label).collect()
    }

    /// Images per emotion, in `Emotion::ALL` order.
    pub fn per_class(&self) -> [usize; 5] {
        let mut counts = [0; 5];
        for item in &self.items {
            counts[item.label] += 1;
        }
        counts
    }
}

fn is_image_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect::<Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(counts: [usize; 5]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (emotion, count) in Emotion::ALL.iter().zip(counts) {
            let folder = dir.path().join(emotion.as_str());
            std::fs::create_dir(&folder).unwrap();
            for i in 0..count {
                std::fs::write(folder.join(format!("{i}.png")), b"x").unwrap();
            }
        }
        dir
    }

    #[test]
    fn lists_images_by_class_and_skips_other_files() {
        let dir = layout([4, 5, 4, 4, 6]);
        std::fs::write(dir.path().join("happy/notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("happy/.DS_Store"), b"x").unwrap();
        std::fs::write(dir.path().join("sad/BIG.JPG"), b"x").unwrap();
        std::fs::write(dir.path().join("README.md"), b"x").unwrap();
        let data = Dataset::scan(dir.path()).unwrap();
        assert_eq!(data.per_class(), [4, 5, 5, 4, 6]);
        assert_eq!(data.skipped.len(), 2, "{:?}", data.skipped);
        assert_eq!(data.items[0].label, 0);
        assert_eq!(data.labels().len(), 24);
    }

    #[test]
    fn refuses_missing_and_extra_folders_and_small_classes() {
        let dir = layout([4, 4, 4, 4, 4]);
        std::fs::remove_dir_all(dir.path().join("fun")).unwrap();
        let err = Dataset::scan(dir.path()).unwrap_err().to_string();
        assert!(err.contains("fun") && err.contains("missing"), "{err}");

        let dir = layout([4, 4, 4, 4, 4]);
        std::fs::create_dir(dir.path().join("surprised")).unwrap();
        let err = Dataset::scan(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("surprised") && err.contains("unexpected folder"),
            "{err}"
        );

        let dir = layout([4, 4, 3, 4, 4]);
        let err = Dataset::scan(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sad") && err.contains("at least 4"), "{err}");

        let err = Dataset::scan(Path::new("/no/such/dataset"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such/dataset"), "{err}");
    }
}
