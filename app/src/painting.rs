//! The painting music is made from: the person's own file as it uploads, a painting of the
//! gallery, or an image already on the server (when a track is made again).

use ekphrasis_shared::api::GalleryItem;
use ekphrasis_shared::{ImageId, ImageRef};

use crate::upload::UploadState;

/// Where stored images are served; an image's URL is this followed by its id.
const IMAGES_PREFIX: &str = "/api/images/";

/// The chosen painting.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Painting {
    /// Nothing chosen yet.
    #[default]
    Nothing,
    /// A file of the person's own, with the address of its preview in the page.
    Upload {
        state: UploadState,
        preview: Option<String>,
    },
    /// A painting of the gallery.
    Gallery(GalleryItem),
    /// An image already on the server: the painting of a track being made again.
    Stored { id: ImageId, url: String },
}

impl Painting {
    /// The image to compose from, once the server has it.
    pub fn image(&self) -> Option<ImageRef> {
        match self {
            Painting::Nothing => None,
            Painting::Upload { state, .. } => state.image(),
            Painting::Gallery(item) => Some(ImageRef::Gallery(item.id.clone())),
            Painting::Stored { id, .. } => Some(ImageRef::Upload(id.clone())),
        }
    }

    /// How the person's own file stands (idle for a painting that is not theirs).
    pub fn upload(&self) -> UploadState {
        match self {
            Painting::Upload { state, .. } => state.clone(),
            _ => UploadState::Idle,
        }
    }

    /// The machine-readable name, for the status line's `data-state`.
    pub fn state_name(&self) -> &'static str {
        match self {
            Painting::Nothing => "idle",
            Painting::Upload { state, .. } => state.name(),
            Painting::Gallery(_) => "gallery",
            Painting::Stored { .. } => "stored",
        }
    }

    /// Where the painting stands, in words.
    pub fn words(&self) -> String {
        match self {
            Painting::Nothing => UploadState::Idle.words(),
            Painting::Upload { state, .. } => state.words(),
            Painting::Gallery(item) => format!("“{}” from the gallery.", item.title),
            Painting::Stored { .. } => "The painting of the piece you are making again.".into(),
        }
    }

    /// The address of the picture to show.
    pub fn preview_url(&self) -> Option<String> {
        match self {
            Painting::Nothing => None,
            Painting::Upload { preview, .. } => preview.clone(),
            Painting::Gallery(item) => Some(item.image_url.clone()),
            Painting::Stored { url, .. } => Some(url.clone()),
        }
    }

    /// The picture's text alternative: the gallery's own words when it has them, else the
    /// caption the chain wrote for it once there is one.
    pub fn preview_alt(&self, caption: Option<&str>) -> String {
        let caption = caption.map(str::trim).filter(|c| !c.is_empty());
        match (self, caption) {
            (Painting::Gallery(item), _) if !item.alt.trim().is_empty() => item.alt.clone(),
            (_, Some(caption)) => format!("The painting: {caption}"),
            (Painting::Gallery(item), None) => format!("The painting “{}”", item.title),
            (Painting::Stored { .. }, None) => {
                "The painting of the piece you are making again".into()
            }
            (_, None) => "The painting you chose".into(),
        }
    }

    /// The gallery item, when the painting is one.
    pub fn gallery_item(&self) -> Option<&GalleryItem> {
        match self {
            Painting::Gallery(item) => Some(item),
            _ => None,
        }
    }
}

/// The image id in a stored image's address (`/api/images/{sha256}`, relative or absolute).
pub fn image_id_from_url(url: &str) -> Option<ImageId> {
    let (_, id) = url.split_once(IMAGES_PREFIX)?;
    let id = id.split(['?', '#']).next().unwrap_or_default();
    ImageId::parse(id).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use ekphrasis_shared::api::UploadedImage;
    use ekphrasis_shared::ids::GalleryId;

    use super::*;
    use crate::problem::Problem;

    fn sha() -> String {
        "ab".repeat(32)
    }

    pub(crate) fn item() -> GalleryItem {
        GalleryItem {
            id: GalleryId::parse("moonlit-lake").expect("a slug"),
            title: "Moonlit Lake".into(),
            artist: "Someone".into(),
            year: Some("2026".into()),
            credit: "made for the tests".into(),
            licence: "CC0-1.0".into(),
            alt: "A lake under the moon.".into(),
            image_url: format!("/api/images/{}", sha()),
            width: 4,
            height: 3,
            track: None,
        }
    }

    #[test]
    fn only_a_painting_the_server_has_can_be_composed_from() {
        assert_eq!(Painting::Nothing.image(), None);
        let uploading = Painting::Upload {
            state: UploadState::Uploading,
            preview: Some("blob:x".into()),
        };
        assert_eq!(uploading.image(), None);
        assert_eq!(uploading.state_name(), "uploading");
        assert_eq!(uploading.preview_url().as_deref(), Some("blob:x"));
        let id = ImageId::parse(&sha()).expect("an id");
        let uploaded = Painting::Upload {
            state: UploadState::Uploaded(UploadedImage {
                id: id.clone(),
                width: 2,
                height: 2,
            }),
            preview: None,
        };
        assert_eq!(uploaded.image(), Some(ImageRef::Upload(id.clone())));
        let failed = Painting::Upload {
            state: UploadState::Failed(Problem::network()),
            preview: None,
        };
        assert_eq!(failed.image(), None);
        assert_eq!(failed.upload().name(), "failed");
        let stored = Painting::Stored {
            id: id.clone(),
            url: format!("/api/images/{}", sha()),
        };
        assert_eq!(stored.image(), Some(ImageRef::Upload(id)));
        assert_eq!(stored.upload(), UploadState::Idle);
    }

    #[test]
    fn gallery_paintings_are_named_and_described() {
        let painting = Painting::Gallery(item());
        assert_eq!(
            painting.image(),
            Some(ImageRef::Gallery(
                GalleryId::parse("moonlit-lake").expect("a slug")
            ))
        );
        assert_eq!(painting.state_name(), "gallery");
        assert_eq!(painting.words(), "“Moonlit Lake” from the gallery.");
        assert_eq!(painting.preview_alt(None), "A lake under the moon.");
        assert_eq!(
            painting.preview_alt(Some("a sad lake")),
            "A lake under the moon.",
            "the gallery's own words come first"
        );
        let mut untold = item();
        untold.alt = " ".into();
        assert_eq!(
            Painting::Gallery(untold.clone()).preview_alt(None),
            "The painting “Moonlit Lake”"
        );
        assert_eq!(
            Painting::Gallery(untold).preview_alt(Some(" a sad painting of a lake ")),
            "The painting: a sad painting of a lake"
        );
        assert_eq!(
            Painting::Nothing.preview_alt(None),
            "The painting you chose"
        );
    }

    #[test]
    fn image_ids_are_read_from_image_addresses() {
        let id = ImageId::parse(&sha()).expect("an id");
        assert_eq!(
            image_id_from_url(&format!("/api/images/{}", sha())),
            Some(id.clone())
        );
        assert_eq!(
            image_id_from_url(&format!("https://x.example/api/images/{}?v=1", sha())),
            Some(id)
        );
        assert_eq!(image_id_from_url("/api/images/nothex"), None);
        assert_eq!(image_id_from_url("/elsewhere"), None);
    }
}
